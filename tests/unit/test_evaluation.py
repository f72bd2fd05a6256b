"""Streaming evaluation of rasters against an independent count, grids, nodata and the outputs."""
from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core.errors import InputError, OutputError, YearsError
from euromine_qgis.core.io import masks
from euromine_qgis.core.io.area import pixel_areas_m2
from euromine_qgis.core.io.raster import Grid
from euromine_qgis.core.pairs import parse_pairs
from euromine_qgis.core.scoring import evaluation as evaluation_module
from euromine_qgis.core.scoring.evaluation import FN, FP, NODATA, TN, TP, evaluate_rasters, match_inputs
from euromine_qgis.core.scoring.report import render_html, table_columns, write_report, write_table
from tests.rasters import TRANSFORM, write_mask

YEARS = [2017, 2018, 2019, 2020]


def independent_counts(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray) -> tuple[int, int, int, int]:
    """TP, FP, FN, TN by a bincount over 2·y + p (a different route from the engine's)."""
    codes = 2 * ref[valid].astype(np.int64) + pred[valid].astype(np.int64)
    tn, fp, fn, tp = np.bincount(codes, minlength=4)
    return int(tp), int(fp), int(fn), int(tn)


@pytest.fixture
def random_site(tmp_path):
    """Predictions (0/1, nodata 255) and EuroMineNet-like labels (0/255, no CRS, no nodata) with
    a few label pixels set to other non-zero values, plus the in-memory truth."""
    rng = np.random.default_rng(11)
    height, width = 301, 77
    pred_raw, ref_raw, preds, refs = [], [], {}, {}
    (tmp_path / "pred").mkdir()
    (tmp_path / "label").mkdir()
    for year in YEARS:
        p = rng.integers(0, 2, (height, width)).astype(np.uint8)
        p[rng.random((height, width)) < 0.1] = 255
        r = np.where(rng.random((height, width)) < 0.4, 255, 0).astype(np.uint8)
        r[rng.random((height, width)) < 0.02] = 7  # any non-zero value without nodata is mining
        preds[year] = write_mask(tmp_path / "pred" / f"footprint_{year}.tif", p, 255, blocks=16)
        refs[year] = write_mask(tmp_path / "label" / f"Year{year}.tif", r, None, crs=None)
        pred_raw.append(p)
        ref_raw.append(r)
    return preds, refs, np.array(pred_raw), np.array(ref_raw)


def test_counts_agree_with_an_independent_computation(random_site, monkeypatch):
    preds, refs, p_raw, r_raw = random_site
    monkeypatch.setattr(masks, "WINDOW_PIXELS", 16 * 77 * 3)  # several windows of 48 rows
    pairs = parse_pairs("all", YEARS)
    ev = evaluate_rasters(preds, refs, pairs)
    pred, valid, ref = p_raw == 1, p_raw != 255, r_raw != 0
    for t, year in enumerate(YEARS):
        c = ev.counts.per_year[year]
        assert (c.tp, c.fp, c.fn, c.tn) == independent_counts(pred[t], ref[t], valid[t])
    for a, b in pairs:
        i, j = YEARS.index(a), YEARS.index(b)
        both = valid[i] & valid[j]
        c = ev.counts.pairs[(a, b)].counts
        assert (c.tp, c.fp, c.fn, c.tn) == independent_counts(pred[i] != pred[j], ref[i] != ref[j], both)
    ctp = cfp = cfn = 0
    for t in range(1, len(YEARS)):
        both = valid[t - 1] & valid[t]
        # Transition classes: 0 none, 1 gain, 2 loss; a hit is the same non-zero class.
        ref_change = np.select([ref[t] & ~ref[t - 1], ref[t - 1] & ~ref[t]], [1, 2], 0)[both]
        pred_change = np.select([pred[t] & ~pred[t - 1], pred[t - 1] & ~pred[t]], [1, 2], 0)[both]
        table = np.bincount(3 * ref_change + pred_change, minlength=9).reshape(3, 3)
        ctp += table[1, 1] + table[2, 2]
        cfp += table[:, 1].sum() - table[1, 1] + table[:, 2].sum() - table[2, 2]
        cfn += table[1, :].sum() - table[1, 1] + table[2, :].sum() - table[2, 2]
    t = ev.counts.transitions
    assert (t.ctp, t.cfp, t.cfn) == (ctp, cfp, cfn)
    # Areas over valid pixels, weighted by each row's geodesic pixel area.
    grid = Grid(CRS.from_epsg(4326), TRANSFORM, 77, 301)
    rows_ha = pixel_areas_m2(grid)[:, 0] / 1e4  # one area per row of a geographic grid
    assert ev.area_unit == "ha"
    assert ev.mapped_area[2018] == pytest.approx(float((pred[1] & valid[1]).sum(axis=1) @ rows_ha), rel=1e-12)
    assert ev.reference_area[2018] == pytest.approx(float((ref[1] & valid[1]).sum(axis=1) @ rows_ha), rel=1e-12)


def test_window_size_does_not_change_anything(random_site, monkeypatch):
    preds, refs, *_ = random_site
    pairs = parse_pairs("consecutive", YEARS)
    whole = evaluate_rasters(preds, refs, pairs)
    monkeypatch.setattr(masks, "WINDOW_PIXELS", 1)
    strips = evaluate_rasters(preds, refs, pairs)
    assert strips.counts == whole.counts
    for year in YEARS:
        assert np.array_equal(strips.previews[year], whole.previews[year])


def test_preview_codes_and_downsampling(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_module, "PREVIEW_SIDE", 10)
    p = np.array([[0, 1, 0, 1, 255]] * 25, np.uint8)
    r = np.array([[0, 0, 1, 1, 1]] * 25, np.uint8)
    pred = {2020: write_mask(tmp_path / "p2020.tif", p, 255)}
    ref = {2020: write_mask(tmp_path / "r2020.tif", r, None, crs=None)}
    ev = evaluate_rasters(pred, ref)
    preview = ev.previews[2020]
    assert preview.shape == (9, 2)  # step 3 over 25 rows and 5 columns
    assert set(preview[:, 0]) == {TN} and set(preview[:, 1]) == {TP}  # columns 0 and 3
    monkeypatch.setattr(evaluation_module, "PREVIEW_SIDE", 400)
    full = evaluate_rasters(pred, ref).previews[2020]
    assert list(full[0]) == [TN, FP, FN, TP, NODATA]


def test_year_matching(random_site):
    preds, refs, *_ = random_site
    pred, ref = match_inputs(list(preds.values()), list(refs.values())[1:], None)
    assert sorted(pred) == sorted(ref) == YEARS[1:]
    with pytest.raises(YearsError, match="2017"):
        match_inputs(list(preds.values()), list(refs.values())[1:], YEARS)
    with pytest.raises(YearsError, match="no year has both"):
        match_inputs(list(preds.values())[:1], list(refs.values())[1:], None)


def test_reference_of_another_size_names_both_files(tmp_path):
    pred = {2020: write_mask(tmp_path / "footprint_2020.tif", np.zeros((20, 30), np.uint8), 255)}
    ref = {2020: write_mask(tmp_path / "Year2020.tif", np.zeros((20, 31), np.uint8), None, crs=None)}
    with pytest.raises(InputError, match=r"Year2020.tif \(31 × 20 px\) does not match the grid of "
                                         r".*footprint_2020.tif \(30 × 20 px\)"):
        evaluate_rasters(pred, ref)


def test_georeferenced_reference_on_another_grid_names_both_files(tmp_path):
    pred = {2020: write_mask(tmp_path / "footprint_2020.tif", np.zeros((20, 30), np.uint8), 255)}
    shifted = from_origin(16.0, 50.0, TRANSFORM.a, -TRANSFORM.e)
    ref = {2020: write_mask(tmp_path / "Year2020.tif", np.zeros((20, 30), np.uint8), None, transform=shifted)}
    with pytest.raises(InputError, match=r"Year2020.tif and .*footprint_2020.tif: .*different CRS or transform"):
        evaluate_rasters(pred, ref)


def test_predictions_of_different_years_on_different_grids(tmp_path):
    pred = {2020: write_mask(tmp_path / "f2020.tif", np.zeros((20, 30), np.uint8), 255),
            2021: write_mask(tmp_path / "f2021.tif", np.zeros((21, 30), np.uint8), 255)}
    ref = {y: write_mask(tmp_path / f"Year{y}.tif", np.zeros((20, 30), np.uint8), None, crs=None) for y in pred}
    with pytest.raises(InputError, match=r"f2021.tif and .*f2020.tif: predictions of different years"):
        evaluate_rasters(pred, ref)


def test_multiband_and_unreadable_inputs(tmp_path):
    bad = tmp_path / "Year2020.tif"
    bad.write_text("not a raster")
    good = write_mask(tmp_path / "footprint_2020.tif", np.zeros((5, 5), np.uint8), 255)
    with pytest.raises(InputError, match="Year2020.tif: not a readable raster"):
        evaluate_rasters({2020: good}, {2020: bad})
    multi = tmp_path / "multi_2020.tif"
    with rasterio.open(multi, "w", driver="GTiff", width=5, height=5, count=2, dtype="uint8") as dst:
        dst.write(np.zeros((2, 5, 5), np.uint8))
    with pytest.raises(InputError, match="multi_2020.tif: mask raster has 2 bands"):
        evaluate_rasters({2020: multi}, {2020: good})


def test_float_prediction_with_nan_nodata(tmp_path):
    p = np.array([[0.0, 1.0, np.nan, 0.7]], np.float32)
    r = np.array([[0, 255, 255, 0]], np.uint8)
    ev = evaluate_rasters({2020: write_mask(tmp_path / "p2020.tif", p, np.nan)},
                          {2020: write_mask(tmp_path / "r2020.tif", r, None, crs=None)})
    c = ev.counts.per_year[2020]
    assert (c.tp, c.fp, c.fn, c.tn) == (1, 1, 0, 1)


def test_table_and_report_are_written_atomically_and_inputs_untouched(random_site, tmp_path):
    preds, refs, *_ = random_site
    inputs = [*preds.values(), *refs.values()]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs}
    ev = evaluate_rasters(preds, refs, parse_pairs("all", YEARS))
    summary = ev.summary(0.25)
    (tmp_path / "out").mkdir()
    table = write_table(summary, tmp_path / "out" / "metrics.csv")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == table_columns("ha")
    by_name = {(r["section"], r["name"]): r for r in rows}
    assert float(by_name[("year", "2018")]["iou"]) == summary["per_year"]["2018"]["iou"]
    assert float(by_name[("temporal", "CA-TIoU (lambda=0.25)")]["score"]) == summary["ca_tiou"]
    assert int(by_name[("change", "all")]["pairs"]) == 6
    assert {r["name"] for r in rows if r["section"] == "change"} == {"annual", "medium", "all"}
    report = write_report(ev, tmp_path / "out" / "report.html", 0.25)
    page = report.read_text()
    # four plots, the footprints over the years, a map panel per year
    assert page.count("<img ") == 4 + 1 + len(YEARS) and "CA-TIoU" in page
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.csv", "report.html"]
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs}
    with pytest.raises(OutputError, match="report.txt: the report must be an .html file"):
        write_report(ev, tmp_path / "out" / "report.txt", lam=0.5)


def test_undefined_values_show_as_empty_cells_and_na(tmp_path):
    zeros = np.zeros((6, 6), np.uint8)
    ev = evaluate_rasters({2020: write_mask(tmp_path / "p2020.tif", zeros, 255, crs=None)},
                          {2020: write_mask(tmp_path / "r2020.tif", zeros, None, crs=None)})
    summary = ev.summary(lam=0.5)
    assert summary["tiou"] is None and summary["ca_tiou"] is None and summary["area_unit"] == "pixels"
    with open(write_table(summary, tmp_path / "t.csv"), newline="") as f:
        rows = {(r["section"], r["name"]): r for r in csv.DictReader(f)}
    assert rows[("year", "2020")]["iou"] == "" and rows[("year", "2020")]["oa"] == "1.0"
    assert rows[("temporal", "TIoU")]["score"] == ""
    assert "n/a" in render_html(ev, lam=0.5)
