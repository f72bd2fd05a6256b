"""Change layers against values computed pixel by pixel in the test, and geodesic pixel areas."""
from __future__ import annotations

import csv
import hashlib
from itertools import combinations, pairwise
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Geod
from rasterio.transform import from_origin

from euromine_qgis.core.errors import Cancelled, InputError, YearsError
from euromine_qgis.core.io import masks
from euromine_qgis.core.maps.change_layers import change_layers
from euromine_qgis.core.maps.temporal_filter import filter_masks
from euromine_qgis.core.progress import Reporter
from tests.rasters import TRANSFORM, write_mask

YEARS = list(range(2015, 2025))
HEIGHT, WIDTH = 41, 23


@pytest.fixture
def series(tmp_path):
    """Ten annual footprints with persistent, flickering mining and nodata in some years; one
    year uses another encoding (nodata 200, mining 255). Returns (inputs, mined, valid)."""
    rng = np.random.default_rng(5)
    state = rng.random((HEIGHT, WIDTH)) < 0.3
    mined, valid, inputs = [], [], []
    for t, year in enumerate(YEARS):
        state = np.where(rng.random((HEIGHT, WIDTH)) < 0.25, ~state, state)
        ok = rng.random((HEIGHT, WIDTH)) > 0.15
        ok[0, 0] = False  # nodata in every year
        ok[1, 0] = t == 4  # valid in a single year
        path = tmp_path / "in" / f"footprint_{year}.tif"
        path.parent.mkdir(exist_ok=True)
        if year == 2018:
            write_mask(path, np.where(ok, np.where(state, 255, 0), 200).astype(np.uint8), 200, blocks=16)
        else:
            write_mask(path, np.where(ok, state.astype(np.uint8), 255).astype(np.uint8), 255, blocks=16)
        inputs.append((year, path))
        mined.append(state & ok)
        valid.append(ok)
    return inputs, np.array(mined), np.array(valid)


def truth_of_pixel(mined: list[bool], valid: list[bool]) -> tuple[int, int, int, int] | None:
    """(first, last, active, transitions) of one pixel by a plain loop; None when never valid."""
    observed = [(year, m) for year, m, v in zip(YEARS, mined, valid, strict=True) if v]
    if not observed:
        return None
    mining_years = [year for year, m in observed if m]
    switches = sum(1 for (_, x), (_, y) in pairwise(observed) if x != y)
    return (mining_years[0] if mining_years else 0, mining_years[-1] if mining_years else 0,
            len(mining_years), switches)


def geodesic_pixel_ha(row: int) -> float:
    """Area of one pixel of ``row`` as a geodesic polygon on WGS84, in hectares."""
    t = TRANSFORM
    top, bottom = t.f + t.e * row, t.f + t.e * (row + 1)
    lons = [t.c, t.c + t.a, t.c + t.a, t.c]
    lats = [bottom, bottom, top, top]
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)
    return abs(area) / 1e4


def geodesic_ha(mask: np.ndarray) -> float:
    return sum(geodesic_pixel_ha(row) * int(mask[row].sum()) for row in range(mask.shape[0]))


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_all_45_pairs_and_summaries_match_independent_truth(series, tmp_path, monkeypatch):
    inputs, mined, valid = series
    monkeypatch.setattr(masks, "WINDOW_PIXELS", 16 * WIDTH)  # three windows of 16 rows
    before = {p: sha(p) for _, p in inputs}
    pairs = list(combinations(YEARS, 2))
    result = change_layers(inputs, pairs, tmp_path / "out", temporal_filter="none", min_area_ha=0.0)

    assert len(result.change) == 45
    first, last, active, flicker = (read(p) for p in (result.first_year, result.last_year,
                                                        result.years_active, result.transitions))
    for r in range(HEIGHT):
        for c in range(WIDTH):
            truth = truth_of_pixel(list(mined[:, r, c]), list(valid[:, r, c]))
            got = (int(first[r, c]), int(last[r, c]), int(active[r, c]), int(flicker[r, c]))
            assert got == ((65535, 65535, 255, 255) if truth is None else truth), (r, c)
    assert first[0, 0] == 65535 and flicker[1, 0] == 0 and active[1, 0] == int(mined[4, 1, 0])

    for a, b in pairs:
        ta, tb = YEARS.index(a), YEARS.index(b)
        expected = np.full((HEIGHT, WIDTH), 255, np.uint8)
        for r in range(HEIGHT):
            for c in range(WIDTH):
                if valid[ta, r, c] and valid[tb, r, c]:
                    expected[r, c] = {(False, True): 1, (True, False): 2}.get((mined[ta, r, c], mined[tb, r, c]), 0)
        assert np.array_equal(read(result.change[(a, b)]), expected), (a, b)
        assert result.pairs[(a, b)].gain_ha == pytest.approx(geodesic_ha(expected == 1), rel=1e-3)
        assert result.pairs[(a, b)].loss_ha == pytest.approx(geodesic_ha(expected == 2), rel=1e-3)
        assert result.pairs[(a, b)].net_ha == pytest.approx(result.pairs[(a, b)].gain_ha - result.pairs[(a, b)].loss_ha)
        both = valid[ta] & valid[tb]  # net: mined area of b minus that of a, over the pixels valid in both
        assert result.pairs[(a, b)].net_ha == pytest.approx(
            geodesic_ha(mined[tb] & both) - geodesic_ha(mined[ta] & both), abs=1e-3 * geodesic_ha(both))
    for t, year in enumerate(YEARS):
        assert result.area_ha[year] == pytest.approx(geodesic_ha(mined[t]), rel=1e-3)

    for path in (*result.change.values(), result.first_year, result.transitions):
        with rasterio.open(path) as src, rasterio.open(inputs[0][1]) as ref:
            assert (src.crs, src.transform, src.shape) == (ref.crs, ref.transform, ref.shape)
    with rasterio.open(result.first_year) as src:
        assert (src.dtypes[0], src.nodata) == ("uint16", 65535)
    with rasterio.open(result.change[(2015, 2024)]) as src:
        assert (src.dtypes[0], src.nodata) == ("uint8", 255)
    assert before == {p: sha(p) for _, p in inputs}


def test_area_table_has_years_and_consecutive_gain_loss(series, tmp_path):
    inputs, mined, valid = series
    result = change_layers(inputs, [(2016, 2020)], tmp_path / "out", table=tmp_path / "t" / "areas.csv",
                           temporal_filter="none", min_area_ha=0.0)
    assert result.table == tmp_path / "t" / "areas.csv"
    with open(result.table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["year"]) for r in rows] == YEARS
    assert rows[0]["gain_ha"] == "" and rows[0]["loss_ha"] == ""
    for t in range(1, len(YEARS)):
        both = valid[t - 1] & valid[t]
        assert float(rows[t]["mined_ha"]) == pytest.approx(geodesic_ha(mined[t]), rel=1e-3)
        assert float(rows[t]["gain_ha"]) == pytest.approx(geodesic_ha(both & mined[t] & ~mined[t - 1]), rel=1e-3)
        assert float(rows[t]["loss_ha"]) == pytest.approx(geodesic_ha(both & ~mined[t] & mined[t - 1]), rel=1e-3)
        assert result.steps[(YEARS[t - 1], YEARS[t])].gain_ha == pytest.approx(float(rows[t]["gain_ha"]), rel=1e-6)
    assert (tmp_path / "t" / "areas.csvt").read_text().startswith('"Integer","Real"')
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "change_2016_2020.tif", "first_year.tif", "last_year.tif", "trajectory.tif", "transitions.tif",
        "years_active.tif"]


def test_grid_mismatch_names_both_files(series, tmp_path):
    inputs, mined, _ = series
    shifted = from_origin(TRANSFORM.c + 0.01, TRANSFORM.f, TRANSFORM.a, -TRANSFORM.e)
    odd = write_mask(tmp_path / "footprint_2025.tif", mined[0].astype(np.uint8), 255, transform=shifted)
    with pytest.raises(InputError, match=r"footprint_2025.tif and .*footprint_2015.tif: .*different grids"):
        change_layers([*inputs, (2025, odd)], [], tmp_path / "out", temporal_filter="none", min_area_ha=0.0)
    assert not (tmp_path / "out").exists()


def test_pair_outside_the_years_is_refused(series, tmp_path):
    inputs, _, _ = series
    with pytest.raises(YearsError, match="pair 2014-2016"):
        change_layers(inputs, [(2014, 2016)], tmp_path / "out", temporal_filter="none", min_area_ha=0.0)


def test_cancel_mid_run_leaves_no_file(series, tmp_path, monkeypatch):
    inputs, _, _ = series
    monkeypatch.setattr(masks, "WINDOW_PIXELS", 16 * WIDTH)
    before = {p: sha(p) for _, p in inputs}
    checks = iter([False, False, True])
    with pytest.raises(Cancelled):
        change_layers(inputs, [(2015, 2024)], tmp_path / "out", Reporter(is_canceled=lambda: next(checks)),
                      temporal_filter="none", min_area_ha=0.0)
    assert list((tmp_path / "out").iterdir()) == []
    assert before == {p: sha(p) for _, p in inputs}


def test_temporal_filter_derives_every_layer_from_the_filtered_masks(series, tmp_path, monkeypatch):
    inputs, mined, valid = series
    monkeypatch.setattr(masks, "WINDOW_PIXELS", 16 * WIDTH)
    plain = change_layers(inputs, [(2015, 2024)], tmp_path / "plain", temporal_filter="none", min_area_ha=0.0)
    result = change_layers(inputs, [(2015, 2024)], tmp_path / "smooth", temporal_filter="smooth3", min_area_ha=0.0)
    smoothed = filter_masks(mined, valid, 3)
    first, last, active, flicker = (read(p) for p in (result.first_year, result.last_year,
                                                        result.years_active, result.transitions))
    for r in range(HEIGHT):
        for c in range(WIDTH):
            truth = truth_of_pixel(list(smoothed[:, r, c]), list(valid[:, r, c]))
            got = (int(first[r, c]), int(last[r, c]), int(active[r, c]), int(flicker[r, c]))
            assert got == ((65535, 65535, 255, 255) if truth is None else truth), (r, c)
    seen = valid.any(axis=0)
    assert flicker[seen].sum() < read(plain.transitions)[seen].sum()
    for t, year in enumerate(YEARS):
        assert result.area_ha[year] == pytest.approx(geodesic_ha(smoothed[t]), rel=1e-3)
    with pytest.raises(InputError, match="TEMPORAL_FILTER 'mode'"):
        change_layers(inputs, [], tmp_path / "bad", temporal_filter="mode", min_area_ha=0.0)
