"""VECTOR_OUTPUT of euromine:changelayers: polygons per pair and per year with area_ha."""
from __future__ import annotations

import numpy as np
import pytest
from qgis import processing
from qgis.core import QgsGeometry, QgsRectangle, QgsVectorLayer

from tests.rasters import TRANSFORM, write_mask

# Interior of the nodata block (rows 0–4, columns 0–6), a tenth of a pixel inside its edges.
NODATA_CORNER = QgsGeometry.fromRect(QgsRectangle(*(TRANSFORM * (0.1, 4.9)), *(TRANSFORM * (6.9, 0.1))))


def test_polygons_carry_classes_and_areas_that_add_up_to_the_raster_areas(euromine_provider, tmp_path):
    rng = np.random.default_rng(11)
    state = rng.random((30, 40)) < 0.4
    paths = []
    for year in (2016, 2017, 2018):
        state = np.where(rng.random(state.shape) < 0.2, ~state, state)
        data = state.astype(np.uint8)
        data[:5, :7] = 255  # nodata corner: no polygon of any layer may cover it
        paths.append(str(tmp_path / f"footprint_{year}.tif"))
        write_mask(tmp_path / f"footprint_{year}.tif", data, 255)
    result = processing.run("euromine:changelayers", {"FOOTPRINTS": paths, "PAIRS": "2016-2017, 2017-2018, 2016-2018",
                                                      "VECTOR_OUTPUT": True, "OUTPUT_FOLDER": str(tmp_path / "out")})
    gpkg = tmp_path / "out" / "change_polygons.gpkg"
    assert result["VECTOR_OUTPUT"] == str(gpkg)
    assert not [p for p in gpkg.parent.iterdir() if "partial" in p.name]
    for pair in ("2016-2017", "2017-2018", "2016-2018"):
        a, b = pair.split("-")
        layer = QgsVectorLayer(f"{gpkg}|layername=change_{a}_{b}", pair, "ogr")
        assert layer.isValid() and layer.crs().authid() == "EPSG:4326"
        assert not any(f.geometry().intersects(NODATA_CORNER) for f in layer.getFeatures())
        classes = [f["class"] for f in layer.getFeatures()]
        assert set(classes) == {"gain", "loss"}
        for name, key in (("gain", "GAIN_HA"), ("loss", "LOSS_HA")):
            total = sum(f["area_ha"] for f in layer.getFeatures() if f["class"] == name)
            assert total == pytest.approx(result[key][pair], rel=1e-4)
    for year in ("2016", "2017", "2018"):
        layer = QgsVectorLayer(f"{gpkg}|layername=footprint_{year}", year, "ogr")
        assert {f["class"] for f in layer.getFeatures()} == {"mining"}
        assert not any(f.geometry().intersects(NODATA_CORNER) for f in layer.getFeatures())
        assert sum(f["area_ha"] for f in layer.getFeatures()) == pytest.approx(result["AREA_HA"][year], rel=1e-4)


def test_without_vector_output_no_geopackage_is_written(euromine_provider, tmp_path):
    path = tmp_path / "footprint_2016.tif"
    write_mask(path, np.ones((8, 9), np.uint8), 255)
    result = processing.run("euromine:changelayers", {"FOOTPRINTS": [str(path)], "OUTPUT_FOLDER": str(tmp_path / "out")})
    assert result["VECTOR_OUTPUT"] is None and not (tmp_path / "out" / "change_polygons.gpkg").exists()
