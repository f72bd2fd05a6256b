"""Temporal filter rules on hand-made stacks with nodata, and against a per-pixel reference."""
from __future__ import annotations

import numpy as np
import pytest

from euromine_qgis.core.errors import InputError
from euromine_qgis.core.maps.temporal_filter import filter_masks, filter_width, smooth_probabilities


def column(values, valid=None):
    """A (T, 1, 1) stack of one pixel's years."""
    values = np.asarray(values)
    valid = np.ones(values.shape, bool) if valid is None else np.asarray(valid, bool)
    return values.reshape(-1, 1, 1), valid.reshape(-1, 1, 1)


def test_majority_of_three_with_the_window_shifted_inward_at_the_ends():
    mined, valid = column(np.array([0, 1, 0, 0, 1, 1, 1, 0, 1, 1], bool))
    expected = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert filter_masks(mined, valid, 3).ravel().tolist() == [bool(v) for v in expected]


def test_nodata_years_are_skipped_not_counted_as_not_mining():
    # Valid years 0, 2, 3, 5 hold 1, 0, 1, 1; the nodata years hold 0 that must not count.
    mined, valid = column(np.array([1, 0, 0, 1, 0, 1], bool), [1, 0, 1, 1, 0, 1])
    assert filter_masks(mined, valid, 3).ravel().tolist() == [True, False, True, True, False, True]


@pytest.mark.parametrize("values, width", [([1, 0], 3), ([1, 1, 0, 0], 5), ([0, 1], 5)])
def test_a_tie_keeps_the_years_own_value(values, width):
    mined, valid = column(np.array(values, bool))
    assert filter_masks(mined, valid, width).ravel().tolist() == [bool(v) for v in values]


def test_a_pixel_nodata_in_every_year_stays_nodata():
    mined, valid = column(np.array([1, 1, 1], bool), [0, 0, 0])
    assert not filter_masks(mined, valid, 3).any()
    assert np.isnan(smooth_probabilities(mined.astype(np.float32), valid, 3)).all()


def test_probabilities_are_averaged_over_valid_years_only():
    probability, valid = column(np.array([0.1, 0.9, 0.5, np.nan, 0.2], np.float32), [1, 1, 1, 0, 1])
    smoothed = smooth_probabilities(probability, valid, 3).ravel()
    np.testing.assert_allclose(smoothed[[0, 1, 2, 4]], [0.5, 0.5, 1.6 / 3, 1.6 / 3], rtol=1e-6)
    assert np.isnan(smoothed[3])


def test_width_one_changes_nothing():
    rng = np.random.default_rng(0)
    probability = rng.random((6, 4, 5)).astype(np.float32)
    valid = rng.random((6, 4, 5)) > 0.3
    np.testing.assert_array_equal(smooth_probabilities(probability, valid, 1), np.where(valid, probability, np.nan))


def reference_window_mean(values: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """The module rule written out pixel by pixel: s = clamp(i − half, 0, n − w) over valid years."""
    out = np.full(values.shape, np.nan)
    for r in range(values.shape[1]):
        for c in range(values.shape[2]):
            years = np.flatnonzero(valid[:, r, c])
            n = len(years)
            for i, t in enumerate(years):
                start = min(max(i - width // 2, 0), max(n - width, 0))
                out[t, r, c] = values[years[start:start + width], r, c].mean()
    return out


@pytest.mark.parametrize("width", [3, 5])
def test_random_stacks_match_the_rule_pixel_by_pixel(width):
    rng = np.random.default_rng(width)
    probability = rng.random((10, 7, 9)).astype(np.float32)
    valid = rng.random((10, 7, 9)) > 0.35
    expected = reference_window_mean(probability, valid, width)
    np.testing.assert_allclose(smooth_probabilities(probability, valid, width), expected, rtol=1e-5)
    mined = probability > 0.5
    share = reference_window_mean(mined.astype(float), valid, width)
    majority = np.where(share == 0.5, mined, share > 0.5) & valid
    np.testing.assert_array_equal(filter_masks(mined, valid, width), majority)


def test_unknown_filter_names_are_refused():
    assert [filter_width(n) for n in ("none", "smooth3", "smooth5")] == [1, 3, 5]
    with pytest.raises(InputError, match="TEMPORAL_FILTER 'median'"):
        filter_width("median")
