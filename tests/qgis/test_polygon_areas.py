"""Polygon areas agree with the area table in projected CRSs, where the planar area is not the ground's."""
from __future__ import annotations

import numpy as np
import pytest
from qgis import processing
from qgis.core import QgsVectorLayer
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.rasters import write_mask

# Web Mercator at 48°N (planar areas 2.2 × the ground's) and UTM 33N at its zone's western edge.
GRIDS = {"3857": (3857, from_origin(1_300_000, 6_110_000, 20, 20)),
         "32633 edge": (32633, from_origin(277_000, 5_320_000, 10, 10))}


@pytest.mark.slow
@pytest.mark.parametrize("grid", GRIDS)
def test_polygon_areas_equal_the_area_table_in_projected_crs(euromine_provider, tmp_path, grid):
    epsg, transform = GRIDS[grid]
    rng = np.random.default_rng(2)
    paths = []
    for year in (2018, 2019):
        path = tmp_path / f"footprint_{year}.tif"
        write_mask(path, (rng.random((40, 60)) < 0.3).astype(np.uint8), 255, crs=CRS.from_epsg(epsg),
                   transform=transform)
        paths.append(str(path))
    result = processing.run("euromine:changelayers", {"FOOTPRINTS": paths, "VECTOR_OUTPUT": True,
                                                      "OUTPUT_FOLDER": str(tmp_path / "out")})
    gpkg = result["VECTOR_OUTPUT"]
    for year in ("2018", "2019"):
        layer = QgsVectorLayer(f"{gpkg}|layername=footprint_{year}", year, "ogr")
        assert sum(f["area_ha"] for f in layer.getFeatures()) == pytest.approx(result["AREA_HA"][year], rel=1e-4)
    layer = QgsVectorLayer(f"{gpkg}|layername=change_2018_2019", "change", "ogr")
    for name, key in (("gain", "GAIN_HA"), ("loss", "LOSS_HA")):
        total = sum(f["area_ha"] for f in layer.getFeatures() if f["class"] == name)
        assert total == pytest.approx(result[key]["2018-2019"], rel=1e-4)
