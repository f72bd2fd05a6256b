"""Many-site runs without QGIS: site discovery and selection, clipping outlines from mosaics, and
resumable per-site outputs verified by their manifest, on generated sites and the bundled model."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.warp import transform_geom

from euromine_qgis.core.batch.manifest import MANIFEST_NAME
from euromine_qgis.core.batch.site_sources import (
    discover_sites,
    folder_site,
    polygon_sites,
    safe_site_name,
    select_sites,
)
from euromine_qgis.core.batch.sites import map_sites
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import Cancelled, InputError, OutputError, YearsError
from euromine_qgis.core.io.clip import clip_mosaic
from euromine_qgis.core.io.coordinates import apply_affine
from euromine_qgis.core.progress import Reporter
from euromine_qgis.core.release import SPLITS
from euromine_qgis.core.scoring.evaluation import evaluate_rasters
from euromine_qgis.core.scoring.metrics import aggregate_sites
from tests.plain_run import site_options

YEARS = [2015, 2016, 2017]
QUICK = site_options(site_reports=False)


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0)


def nodata_of(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1) == src.nodata


def test_discovery_and_selection(tmp_path, sites):
    found = discover_sites(sites[0].parent)
    assert sorted(found) == ["Synthetic_1", "Synthetic_2", "Synthetic_3"]
    assert select_sites(list(found), "all") == (sorted(found), [])
    assert select_sites(list(found), "Synthetic_3; Synthetic_1") == (["Synthetic_3", "Synthetic_1"], [])
    with pytest.raises(InputError, match="no site named Nowhere_1"):
        select_sites(list(found), "Synthetic_1, Nowhere_1")
    test_split = SPLITS["test"]
    assert select_sites([test_split[0], "Spain_1"], "test") == ([test_split[0]], list(test_split[1:]))
    with pytest.raises(InputError, match="none of the .* test split"):
        select_sites(["Spain_1"], "test")
    with pytest.raises(InputError, match="no site folders"):
        discover_sites(tmp_path)


def test_folder_site_needs_every_selected_year(sites):
    site = folder_site(sites[1], YEARS)
    assert site.years == YEARS and sorted(site.labels) == YEARS
    with pytest.raises(YearsError, match=r"site Synthetic_2 .*no image for year\(s\) 2030"):
        folder_site(sites[1], [2015, 2030])


def test_site_names_become_safe_folder_names():
    assert safe_site_name("Pit 7 / north") == "Pit_7_north"
    with pytest.raises(InputError, match="empty"):
        safe_site_name(" / ")
    outline = {"type": "Point", "coordinates": [0, 0]}
    with pytest.raises(InputError, match="two site outlines are named 'a_b'"):
        polygon_sites([("a b", outline), ("a/b", outline)], "EPSG:4326", [Path("Year2015.tif")], None)


def test_clip_keeps_the_mosaic_grid_and_masks_outside_the_outline(tmp_path, sites):
    mosaic = sites[2] / "image" / "Year2016.tif"
    with rasterio.open(mosaic) as src:
        full, t = src.read(), src.transform

    def corner(col: int, row: int) -> list[float]:
        return list(apply_affine(t, col, row))

    # a triangle over pixel corners (col, row) (10, 20), (60, 20), (10, 50), given in Web Mercator
    triangle = {"type": "Polygon", "coordinates": [[corner(10, 20), corner(60, 20), corner(10, 50), corner(10, 20)]]}
    outline = transform_geom(CRS.from_epsg(4326), CRS.from_epsg(3857), triangle, precision=-1)
    clip = clip_mosaic(mosaic, outline, "EPSG:3857", tmp_path / "clip.tif")
    with rasterio.open(clip) as out:
        data = out.read()
        assert out.crs == CRS.from_epsg(4326) and (out.width, out.height) == (50, 30)
        assert out.transform == t * t.translation(10, 20)  # same pixels, shifted by whole pixels
        assert out.nodata == 0 and out.descriptions[0] == "B2"
    rows, cols = np.mgrid[0:30, 0:50]
    centre = (2 * cols + 1) * 30 + (2 * rows + 1) * 50  # 3000 on the triangle's long edge
    np.testing.assert_array_equal(data[:, centre < 3000], full[:, 20:50, 10:60][:, centre < 3000])
    assert (data[:, centre > 3000] == 0).all()
    far = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    with pytest.raises(InputError, match="Year2016.tif: the site outline does not overlap"):
        clip_mosaic(mosaic, far, "EPSG:4326", tmp_path / "far.tif")
    assert not (tmp_path / "far.tif").exists()


@pytest.mark.slow
def test_map_sites_outputs_summary_and_pooled_scores(tmp_path, sites, model):
    inputs = [folder_site(s, YEARS) for s in sites]
    result = map_sites(inputs, model, tmp_path, site_options(pairs="all"))
    assert [o.status for o in result.sites] == ["mapped"] * 3
    with open(result.table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["site"] for r in rows[:3]] == ["Synthetic_1", "Synthetic_2", "Synthetic_3"]
    assert [r["row"] for r in rows[3:]] == ["micro", "macro"]
    counts, off_by = {}, {}
    for site, row, outcome in zip(sites, rows[:3], result.sites, strict=True):
        folder = tmp_path / site.name
        predictions = {y: folder / "footprints" / f"footprint_{y}.tif" for y in YEARS}
        counts[site.name] = evaluate_rasters(predictions, {y: site / "label" / f"Year{y}.tif" for y in YEARS}).counts
        with open(folder / "change" / "area_table.csv", newline="", encoding="utf-8") as f:
            areas = {int(r["year"]): float(r["mined_ha"]) for r in csv.DictReader(f)}
        assert float(row["area_first_ha"]) == pytest.approx(areas[2015], abs=1e-5)
        assert float(row["area_last_ha"]) == pytest.approx(areas[2017], abs=1e-5)
        with rasterio.open(folder / "change" / "change_2015_2017.tif") as change:
            codes = change.read(1)
        assert (float(row["gain_ha"]) > 0) == bool((codes == 1).any())
        # net change is gain - loss over the pixels valid in both years (docs/metrics.md), not last - first
        assert float(row["net_ha"]) == pytest.approx(float(row["gain_ha"]) - float(row["loss_ha"]), abs=1e-5)
        first_last = float(row["area_last_ha"]) - float(row["area_first_ha"])
        if (nodata_of(predictions[2015]) != nodata_of(predictions[2017])).any():
            off_by[site.name] = abs(float(row["net_ha"]) - first_last)
        assert float(row["ca_tiou"]) == pytest.approx(counts[site.name].ca_tiou(0.5), abs=1e-6)
        assert (folder / "report.html").is_file() and (folder / "evaluation.csv").is_file()
        assert str(folder / "footprints") in (folder / "report.html").read_text(encoding="utf-8")
        assert len(outcome.record["change"]) == 3  # pairs "all" of three years
    assert max(off_by.values()) > 0.01  # where nodata differs between the years, last - first is another figure
    expected = aggregate_sites(counts, lam=0.5)
    assert float(rows[3]["ca_tiou"]) == pytest.approx(expected["micro"]["ca_tiou"], abs=1e-6)
    assert float(rows[4]["tiou"]) == pytest.approx(expected["macro"]["tiou"]["value"], abs=1e-6)
    assert result.pooled["micro"]["sites"] == 3
    assert "Synthetic_1/report.html" in result.report.read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*"))  # no staging folders left


@pytest.mark.slow
def test_cancelled_run_resumes_and_redoes_what_does_not_verify(tmp_path, sites, model):
    inputs = [folder_site(s, [2015, 2016]) for s in sites]
    log: list[str] = []
    stop = Reporter(info=log.append, is_canceled=lambda: any(line.startswith("Site 2/3") for line in log))
    with pytest.raises(Cancelled):
        map_sites(inputs, model, tmp_path, QUICK, reporter=stop)
    assert (tmp_path / "Synthetic_1" / MANIFEST_NAME).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Synthetic_1"]  # nothing half-written, no summary
    first = (tmp_path / "Synthetic_1" / MANIFEST_NAME).stat().st_mtime_ns

    result = map_sites(inputs, model, tmp_path, QUICK)
    assert [o.status for o in result.sites] == ["reused", "mapped", "mapped"]
    assert (tmp_path / "Synthetic_1" / MANIFEST_NAME).stat().st_mtime_ns == first

    (tmp_path / "Synthetic_2" / "footprints" / "footprint_2016.tif").write_bytes(b"truncated")
    shutil.copytree(tmp_path / "Synthetic_1", tmp_path / ".Synthetic_3.partial-deadbeef")  # a crash's leftover
    log.clear()
    result = map_sites(inputs, model, tmp_path, QUICK, reporter=Reporter(info=log.append))
    assert [o.status for o in result.sites] == ["reused", "mapped", "reused"]
    assert any("footprint_2016.tif differs from the file that was written" in line for line in log)
    assert not list(tmp_path.glob(".*"))
    with rasterio.open(tmp_path / "Synthetic_2" / "footprints" / "footprint_2016.tif") as src:
        assert src.count == 1

    result = map_sites(inputs, model, tmp_path, site_options(threshold=0.6, site_reports=False))
    assert [o.status for o in result.sites] == ["mapped"] * 3  # another parameter: nothing reused


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path, sites, model):
    own = tmp_path / "Synthetic_1"
    own.mkdir()
    (own / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="Synthetic_1: folder exists and was not written by a many-site run"):
        map_sites([folder_site(sites[0], [2015])], model, tmp_path, QUICK)
    assert (own / "notes.txt").read_text() == "mine"


def test_manifest_lists_every_output(tmp_path, sites, model):
    map_sites([folder_site(sites[0], [2015, 2016])], model, tmp_path, QUICK)
    folder = tmp_path / "Synthetic_1"
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert set(manifest["files"]) == on_disk
    assert manifest["result"]["years"] == [2015, 2016]
