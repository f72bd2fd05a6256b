"""VECTOR_OUTPUT of euromine:changelayers: polygons per pair and per year with area_ha."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from qgis import processing
from qgis.core import QgsGeometry, QgsRectangle, QgsVectorLayer

from euromine_qgis.core.io.coordinates import apply_affine
from tests.rasters import TRANSFORM, write_mask

# Interior of the nodata block (rows 0–4, columns 0–6), a tenth of a pixel inside its edges.
pytestmark = pytest.mark.slow  # polygons drawn by QGIS, run by run
NODATA_CORNER = QgsGeometry.fromRect(QgsRectangle(*apply_affine(TRANSFORM, 0.1, 4.9),
                                                  *apply_affine(TRANSFORM, 6.9, 0.1)))


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


def layer_area(gpkg, layer_name: str, cls: str) -> float:
    """Total area_ha of the polygons of class ``cls`` in layer ``layer_name`` of ``gpkg``."""
    layer = QgsVectorLayer(f"{gpkg}|layername={layer_name}", layer_name, "ogr")
    assert layer.isValid(), layer_name
    assert {f["class"] for f in layer.getFeatures()} <= {cls, "gain", "loss"}
    return sum(f["area_ha"] for f in layer.getFeatures() if f["class"] == cls)


@pytest.mark.parametrize("temporal_filter", ["none", "smooth3", "smooth5"])
def test_polygons_come_from_the_same_filtered_masks_as_the_area_table(euromine_provider, tmp_path, temporal_filter):
    rng = np.random.default_rng(5)
    years = range(2015, 2020)
    paths = []
    for year in years:  # flickering footprints, so that every filter changes the masks
        data = (rng.random((24, 30)) < 0.5).astype(np.uint8)
        data[:4, :5] = 255
        paths.append(str(write_mask(tmp_path / f"footprint_{year}.tif", data, 255)))
    result = processing.run("euromine:changelayers", {
        "FOOTPRINTS": paths, "PAIRS": "2015-2016, 2016-2017, 2017-2018, 2018-2019, 2015-2019",
        "TEMPORAL_FILTER": temporal_filter,
        "VECTOR_OUTPUT": True, "OUTPUT_FOLDER": str(tmp_path / "out")})
    gpkg = result["VECTOR_OUTPUT"]
    with open(result["AREA_TABLE"], newline="", encoding="utf-8") as table:
        rows = {row["year"]: row for row in csv.DictReader(table)}
    mined = {str(y): layer_area(gpkg, f"footprint_{y}", "mining") for y in years}
    for year in map(str, years):
        assert mined[year] == pytest.approx(float(rows[year]["mined_ha"]), rel=1e-4)
        assert mined[year] == pytest.approx(result["AREA_HA"][year], rel=1e-4)
    assert sum(mined.values()) == pytest.approx(sum(float(r["mined_ha"]) for r in rows.values()), rel=1e-4)
    for pair in result["CHANGE"]:
        a, b = pair.split("-")
        for cls, key in (("gain", "GAIN_HA"), ("loss", "LOSS_HA")):
            assert layer_area(gpkg, f"change_{a}_{b}", cls) == pytest.approx(result[key][pair], rel=1e-4)
            if int(b) == int(a) + 1:
                assert layer_area(gpkg, f"change_{a}_{b}", cls) == pytest.approx(float(rows[b][f"{cls}_ha"]), rel=1e-4)


def test_a_geopackage_another_run_is_writing_is_left_alone(euromine_provider, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    other = out / ".change_polygons.partial.gpkg"  # the name every run used before
    other.write_bytes(b"another run's GeoPackage, half written")
    path = write_mask(tmp_path / "footprint_2016.tif", np.eye(6, dtype=np.uint8), 255)
    result = processing.run("euromine:changelayers", {"FOOTPRINTS": [str(path)], "VECTOR_OUTPUT": True,
                                                      "OUTPUT_FOLDER": str(out)})
    assert other.read_bytes() == b"another run's GeoPackage, half written"
    assert layer_area(result["VECTOR_OUTPUT"], "footprint_2016", "mining") == pytest.approx(result["AREA_HA"]["2016"],
                                                                                            rel=1e-4)
    assert sorted(p.name for p in out.iterdir() if "partial" in p.name) == [other.name]


def test_without_vector_output_no_geopackage_is_written(euromine_provider, tmp_path):
    path = tmp_path / "footprint_2016.tif"
    write_mask(path, np.ones((8, 9), np.uint8), 255)
    result = processing.run("euromine:changelayers",
                            {"FOOTPRINTS": [str(path)], "OUTPUT_FOLDER": str(tmp_path / "out")})
    assert result["VECTOR_OUTPUT"] is None and not (tmp_path / "out" / "change_polygons.gpkg").exists()
