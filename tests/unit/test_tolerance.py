"""The tolerance of results computed in two environments (tests/tolerance.py) passes what numpy
builds change and fails on anything a user would see."""
from __future__ import annotations

import math

import pytest

from tests.tolerance import ABS, REL, assert_results_close, float_mismatches

# Two of the figures numpy 1.24 and numpy 2.4 gave on an AVX-512 CPU for the same footprint.
AREA_NUMPY1, AREA_NUMPY2 = 143.32576566599047, 143.32576566595407


def test_last_bit_differences_between_numpy_builds_pass():
    assert_results_close({"AREA_HA": {"2015": AREA_NUMPY1}, "CA_TIOU": 0.25},
                         {"AREA_HA": {"2015": AREA_NUMPY2}, "CA_TIOU": 0.25 + 1e-16})


@pytest.mark.parametrize("expected, actual", [
    (143.3257, 143.3257 * (1 + 10 * REL)),  # beyond the relative tolerance
    (0.0, 10 * ABS),  # beyond the absolute floor at 0
    (0.0, math.nan),
    ({"a": 1.0}, {"a": 1.0, "b": 2.0}),  # keys
    ([1.0, 2.0], [1.0]),  # lengths
    ("2015-2016", "2015-2017"),  # not a float: exact
    (2015, 2016),
    (True, 1),  # a flag is no number
    (None, 0.0),
])
def test_differences_a_user_would_see_fail(expected, actual):
    assert float_mismatches(expected, actual)
    with pytest.raises(AssertionError):
        assert_results_close({"x": [expected]}, {"x": [actual]})


def test_zero_against_a_rounding_residue_and_nan_against_nan_pass():
    assert not float_mismatches([0.0, math.nan, 3], [1e-17, math.nan, 3.0])


def test_the_message_names_where():
    assert float_mismatches({"MICRO": {"iou": [0.5]}}, {"MICRO": {"iou": [0.6]}}) == [
        "['MICRO']['iou'][0]: 0.5 != 0.6 (beyond rel 1e-09, abs 1e-09)"]
