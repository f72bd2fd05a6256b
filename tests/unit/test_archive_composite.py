"""The per-pixel rule: numpy's median of the clear observations, rounded half to even, clipped to
1–32767, nodata where none is clear; memory bounded by row blocks."""
from __future__ import annotations

import warnings

import numpy as np

from euromine_qgis.core.archive.composite import (
    BLOCK_BUDGET_BYTES,
    BLOCK_BYTES_PER_OBSERVATION,
    _median_of_histogram,
    block_rows,
    median_values,
)
from euromine_qgis.core.io.raster import Grid

NAN = np.nan


def test_the_median_follows_numpy_and_rounds_half_to_even():
    stack = np.array([[[1.0, 4.0, 2.0, NAN, -50.0, 40000.0]],
                      [[2.0, 5.0, 4.0, NAN, -30.0, 40000.0]],
                      [[NAN, NAN, 9.0, NAN, NAN, NAN]]], dtype=np.float32)
    # [1, 2] -> 1.5 -> 2; [4, 5] -> 4.5 -> 4; [2, 4, 9] -> 4; none -> 0; negative -> 1; too bright -> 32767
    assert median_values(stack).tolist() == [[2, 4, 4, 0, 1, 32767]]
    rng = np.random.default_rng(1)
    values = rng.integers(-100, 5000, (7, 20, 30)).astype(np.float32)
    values[rng.random(values.shape) < 0.4] = NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pixels without an observation
        expected = np.nanmedian(values, axis=0)
    got = median_values(values)
    has = ~np.isnan(expected)
    assert (got[~has] == 0).all()
    assert (got[has] == np.clip(np.rint(expected[has]), 1, 32767)).all()


def test_rows_per_block_keep_the_observations_within_the_budget():
    from rasterio.transform import from_origin
    grid = Grid(None, from_origin(0, 0, 10, 10), 5000, 20000)
    rows = block_rows(60, grid)
    assert 1 <= rows < grid.height
    assert 60 * rows * grid.width * BLOCK_BYTES_PER_OBSERVATION <= BLOCK_BUDGET_BYTES
    small = Grid(None, from_origin(0, 0, 10, 10), 100, 80)
    assert block_rows(60, small) == 80


def test_the_median_of_a_count_histogram_is_the_pixels_median():
    rng = np.random.default_rng(2)
    for size in (1, 2, 7, 100):
        counts = rng.integers(0, 9, size)
        assert _median_of_histogram(np.bincount(counts, minlength=9)) == np.median(counts)
    assert _median_of_histogram(np.zeros(4, dtype=np.int64)) == 0.0
