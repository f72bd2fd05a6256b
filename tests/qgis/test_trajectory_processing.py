"""MIN_AREA_HA and the trajectory outputs through real QGIS Processing: euromine:changelayers and
euromine:mapsites on generated sites with the bundled spectral baseline."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import QgsProcessingUtils, QgsVectorLayer

from euromine_qgis.core.io.area import pixel_areas_m2
from euromine_qgis.core.io.raster import Grid
from euromine_qgis.core.maps.min_area import min_area_pixels, sieve_mask

pytestmark = pytest.mark.slow  # six years mapped, sieved and drawn
YEARS = "2015-2020"


@pytest.fixture(scope="module")
def footprints(euromine_provider, sites, tmp_path_factory) -> list[str]:
    images = sorted(str(p) for p in (sites[1] / "image").glob("Year*.tif"))
    out = tmp_path_factory.mktemp("footprints")
    return processing.run("euromine:mapfootprints", {"IMAGES": images, "YEARS": YEARS, "MODEL": "spectral_baseline",
                                                     "OUTPUT_FOLDER": str(out)})["FOOTPRINTS"]


def read(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def grid_of(path) -> Grid:
    with rasterio.open(path) as src:
        return Grid(src.crs, src.transform, src.width, src.height)


def polygon_areas(gpkg: str) -> tuple[dict[tuple[str, int], float], list[str]]:
    layer = QgsVectorLayer(f"{gpkg}|layername=footprints", "footprints", "ogr")
    assert layer.isValid(), gpkg
    areas: dict[tuple[str, int], float] = defaultdict(float)
    for feature in layer.getFeatures():
        areas[(feature["site"], int(feature["year"]))] += feature["area_ha"]
    return areas, layer.fields().names()


def test_changelayers_min_area_trajectory_and_polygons(footprints, tmp_path):
    result = processing.run("euromine:changelayers", {
        "FOOTPRINTS": footprints, "MIN_AREA_HA": 0.05, "OUTPUT_FOLDER": str(tmp_path / "out"),
        "TRAJECTORY": str(tmp_path / "trajectory.tif"), "FOOTPRINT_POLYGONS": str(tmp_path / "polygons.gpkg"),
        "SITE_NAME": "Site A"})
    plain = processing.run("euromine:changelayers", {"FOOTPRINTS": footprints,
                                                     "OUTPUT_FOLDER": str(tmp_path / "plain")})

    # the areas are those of the sieved footprints
    grid = grid_of(footprints[0])
    pixels = min_area_pixels(grid, 0.05)
    assert pixels > 1
    changed = 0
    for path in footprints:
        year = int(Path(path).stem[-4:])
        raw = read(path)
        sieved = sieve_mask(raw, pixels)
        changed += int((sieved != raw).sum())
        areas = pixel_areas_m2(grid) / 1e4 * np.ones((1, grid.width))
        assert result["AREA_HA"][str(year)] == pytest.approx(float(areas[sieved == 1].sum()), rel=1e-9)
    assert changed > 0 and result["AREA_HA"] != plain["AREA_HA"]

    # the TRAJECTORY raster: classes × 10000 + year, on the footprints' grid
    assert result["TRAJECTORY"] == str(tmp_path / "trajectory.tif")
    codes = read(result["TRAJECTORY"])
    classes = set(np.unique(codes // 10000)) - {6}
    assert classes <= {1, 2, 3, 4, 5} and len(classes) >= 3
    gains = codes[codes // 10000 == 3] % 10000
    assert set(gains) <= set(range(2016, 2021))
    assert grid_of(result["TRAJECTORY"]) == grid

    summary = result["TRAJECTORY_SUMMARY"]
    years = sorted(int(y) for y in result["AREA_HA"])
    areas = [result["AREA_HA"][str(y)] for y in years]
    slope, _ = np.polyfit(years, areas, 1)
    assert summary["rate_ha_per_year"] == pytest.approx(slope, rel=1e-9, abs=1e-12)
    assert summary["peak_ha"] == pytest.approx(max(areas)) and summary["peak_year"] == years[int(np.argmax(areas))]
    assert summary["rate_se_ha_per_year"] is not None and 0.0 <= summary["flicker_share"] <= 1.0

    # one polygon layer over the years: site, year, area_ha; per year equal to the area table within 0.01 %
    polygons, fields = polygon_areas(result["FOOTPRINT_POLYGONS"])
    assert fields[-3:] == ["site", "year", "area_ha"]
    with open(result["AREA_TABLE"], newline="") as f:
        table = {int(r["year"]): float(r["mined_ha"]) for r in csv.DictReader(f)}
    for year, ha in table.items():
        assert polygons.get(("Site A", year), 0.0) == pytest.approx(ha, rel=1e-4), year


def test_changelayers_defaults_trajectory_to_a_temporary_file(footprints):
    result = processing.run("euromine:changelayers", {"FOOTPRINTS": footprints[:3]})
    assert Path(QgsProcessingUtils.tempFolder()) in Path(result["TRAJECTORY"]).parents
    assert Path(result["TRAJECTORY"]).exists() and result["FOOTPRINT_POLYGONS"] is None


def test_mapsites_min_area_trajectory_summary_and_polygons(euromine_provider, sites, tmp_path):
    names = f"{sites[0].name},{sites[1].name}"
    common = {"SITES_FOLDER": str(sites[0].parent), "SITES": names, "YEARS": YEARS, "MODEL": "spectral_baseline",
              "SITE_REPORTS": False}
    result = processing.run("euromine:mapsites", {**common, "MIN_AREA_HA": 0.05, "OUTPUT_FOLDER": str(tmp_path / "a"),
                                                  "FOOTPRINT_POLYGONS": str(tmp_path / "polygons.gpkg")})
    plain = processing.run("euromine:mapsites", {**common, "OUTPUT_FOLDER": str(tmp_path / "b")})
    for site in (sites[0].name, sites[1].name):
        got, before = result["SITE_RESULTS"][site], plain["SITE_RESULTS"][site]
        for year, path in zip(got["years"], got["footprints"], strict=True):
            raw = read(before["footprints"][got["years"].index(year)])
            np.testing.assert_array_equal(read(path), sieve_mask(raw, min_area_pixels(grid_of(path), 0.05)))
        assert Path(got["trajectory"]).exists()
        assert got["first_detected_year"] is None or got["first_detected_year"] in got["years"]
        assert got["rate_ha_per_year"] == pytest.approx(
            np.polyfit(got["years"], [got["area_ha"][str(y)] for y in got["years"]], 1)[0], abs=1e-9)
    assert result["SITE_RESULTS"] != plain["SITE_RESULTS"]

    polygons, _ = polygon_areas(result["FOOTPRINT_POLYGONS"])
    for site, figures in result["SITE_RESULTS"].items():
        for year, ha in figures["area_ha"].items():
            assert polygons.get((site, int(year)), 0.0) == pytest.approx(ha, rel=1e-4), (site, year)

    page = Path(result["SUMMARY_REPORT"]).read_text(encoding="utf-8")
    assert "Mining trajectories" in page and page.count('alt="') >= 2 and "mined area per year" in page
    with open(result["SUMMARY_TABLE"], newline="") as f:
        rows = {r["site"]: r for r in csv.DictReader(f)}
    for site, figures in result["SITE_RESULTS"].items():
        assert float(rows[site]["rate_ha_per_year"]) == pytest.approx(figures["rate_ha_per_year"], rel=1e-5, abs=1e-6)
