"""docs/metrics.md: its worked examples exactly, properties of the scores, undefined ratios, sites."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from euromine_qgis.core.errors import YearsError
from euromine_qgis.core.pairs import parse_pairs
from euromine_qgis.core.scoring.metrics import (
    Counts,
    SeriesCounts,
    TransitionCounts,
    aggregate_sites,
    combine_ca_tiou,
    interval_class,
    series_counts,
)

YEARS3 = [2015, 2016, 2017]


def stack(*years: list[int]) -> np.ndarray:
    """(T, 1, W) boolean masks from one row per year."""
    return np.array(years, bool)[:, None, :]


def all_valid(masks: np.ndarray) -> np.ndarray:
    return np.ones_like(masks, bool)


def test_worked_example_a():
    y = stack([0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1])
    p = stack([0, 1, 1, 0], [1, 1, 1, 0], [0, 1, 1, 1])
    c = series_counts(p, y, all_valid(y), YEARS3)
    assert (c.pooled.tp, c.pooled.fp, c.pooled.fn) == (6, 2, 1)
    assert c.tiou == 6 / 9
    assert c.transitions == TransitionCounts(ctp=0, cfp=3, cfn=2)
    assert c.ciou == 0.0
    assert c.ca_tiou(0.5) == pytest.approx(1 / 3, abs=1e-15)
    assert round(c.ca_tiou(0.5), 4) == 0.3333 and round(c.tiou, 4) == 0.6667


def test_worked_example_b():
    y = stack([1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0])
    p = stack([1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0])
    c = series_counts(p, y, all_valid(y), YEARS3)
    assert (c.pooled.tp, c.pooled.fp, c.pooled.fn) == (5, 0, 1)
    assert c.tiou == 5 / 6 and round(c.tiou, 4) == 0.8333
    assert c.transitions == TransitionCounts(ctp=0, cfp=2, cfn=0)
    assert c.ciou == 0.0
    assert c.ca_tiou(0.5) == pytest.approx(5 / 12, abs=1e-15) and round(c.ca_tiou(0.5), 4) == 0.4167


def test_worked_example_c_changing_reference():
    y = stack([0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1])
    c = series_counts(y, y, all_valid(y), YEARS3)
    assert (c.tiou, c.ciou, c.ca_tiou(0.5)) == (1.0, 1.0, 1.0)


def test_worked_example_c_stable_reference():
    y = stack([1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0])
    c = series_counts(y, y, all_valid(y), YEARS3)
    assert c.tiou == 1.0 and c.ciou is None and c.ca_tiou(0.5) == 1.0


def test_undefined_ratios_are_none():
    empty = Counts(tp=0, fp=0, fn=0, tn=7)
    assert empty.oa == 1.0
    assert empty.precision is None and empty.recall is None and empty.f1 is None and empty.iou is None
    assert Counts().oa is None
    assert Counts(tp=0, fp=3, fn=0, tn=1).recall is None and Counts(tp=0, fp=3, fn=0, tn=1).precision == 0.0
    no_reference = np.zeros((3, 1, 4), bool)
    c = series_counts(no_reference, no_reference, all_valid(no_reference), YEARS3)
    assert c.tiou is None and c.ciou is None and c.ca_tiou(0.5) is None
    summary = c.summary(lam=0.5)
    assert summary["pooled"]["iou"] is None and summary["pooled"]["oa"] == 1.0


def test_one_year_ca_tiou_is_tiou():
    y = stack([1, 0, 1, 0])
    p = stack([1, 1, 1, 0])
    c = series_counts(p, y, all_valid(y), [2020])
    assert c.ciou is None and c.ca_tiou(0.9) == c.tiou == 2 / 3


def test_nodata_pixels_are_left_out_of_every_count():
    y = stack([1, 1, 0, 0], [0, 1, 0, 1])
    p = stack([1, 0, 1, 0], [1, 1, 0, 0])
    valid = stack([1, 1, 1, 0], [0, 1, 1, 1])
    c = series_counts(p, y, valid, [2015, 2016])
    assert c.per_year[2015] == Counts(tp=1, fp=1, fn=1, tn=0)
    assert c.per_year[2016] == Counts(tp=1, fp=0, fn=1, tn=1)
    # Transitions only where both years are valid (pixels 1 and 2): the reference loss at pixel 0
    # and gain at pixel 3 are left out; the predicted gain (1) and loss (2) are false.
    assert c.transitions == TransitionCounts(ctp=0, cfp=2, cfn=0)


def test_lambda_outside_unit_interval_is_refused():
    with pytest.raises(ValueError, match="LAMBDA 1.5"):
        combine_ca_tiou(0.5, 0.5, 1.5)


def test_change_pairs_and_interval_classes():
    y = stack([0, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1])
    p = stack([0, 1, 1, 0], [1, 1, 1, 0], [0, 1, 1, 1])
    c = series_counts(p, y, all_valid(y), YEARS3, pairs=[(2015, 2016), (2015, 2017)])
    annual, medium = c.pairs[(2015, 2016)], c.pairs[(2015, 2017)]
    # 2015->2016: reference changes at pixel 3 (gain), prediction at pixel 0 (gain).
    assert annual.counts == Counts(tp=0, fp=1, fn=1, tn=2)
    assert (annual.reference_gain, annual.reference_loss, annual.predicted_gain) == (1, 0, 1)
    # 2015->2017: reference changes at 1 (loss) and 3 (gain), prediction at 3 (gain).
    assert medium.counts == Counts(tp=1, fp=0, fn=1, tn=2)
    assert (medium.reference_gain, medium.reference_loss, medium.predicted_gain, medium.predicted_loss) == (1, 1, 1, 0)
    by_class = c.change_by_interval()
    assert list(by_class) == ["annual", "medium", "all"]
    assert by_class["all"].counts == annual.counts + medium.counts and by_class["all"].pairs == 2
    assert [interval_class(2015, b) for b in (2016, 2017, 2019, 2020, 2024)] == \
        ["annual", "medium", "medium", "long", "long"]


def test_parse_pairs():
    years = list(range(2015, 2025))
    assert len(parse_pairs("all", years)) == 45
    assert parse_pairs("consecutive", [2015, 2017, 2020]) == [(2015, 2017), (2017, 2020)]
    assert parse_pairs("first-last", years) == [(2015, 2024)]
    assert parse_pairs("2016-2019, 2015-2024", years) == [(2015, 2024), (2016, 2019)]
    assert parse_pairs("", years) == [] and parse_pairs(None, years) == []
    with pytest.raises(YearsError, match="2014"):
        parse_pairs("2014-2016", years)
    with pytest.raises(YearsError, match="earlier to a later"):
        parse_pairs("2019-2016", years)
    with pytest.raises(YearsError, match="cannot read 'every'"):
        parse_pairs("every", years)


def test_micro_and_macro_over_sites():
    a = SeriesCounts({2015: Counts(tp=1, fp=1, fn=0, tn=2)}, TransitionCounts())
    b = SeriesCounts({2015: Counts(tp=3, fp=0, fn=1, tn=0)}, TransitionCounts())
    empty = SeriesCounts({2015: Counts(tp=0, fp=0, fn=0, tn=4)}, TransitionCounts())
    agg = aggregate_sites({"a": a, "b": b, "empty": empty}, lam=0.5)
    assert agg["micro"]["sites"] == 3
    assert agg["micro"]["iou"] == 4 / 6
    assert agg["macro"]["iou"] == {"value": (1 / 2 + 3 / 4) / 2, "sites": 2}
    assert agg["macro"]["oa"] == {"value": (3 / 4 + 3 / 4 + 1.0) / 3, "sites": 3}
    assert agg["macro"]["ciou"] == {"value": None, "sites": 0}
    assert agg["per_site"]["empty"]["ca_tiou"] is None
    assert aggregate_sites({}, lam=0.5)["micro"]["sites"] == 0


# --- properties -------------------------------------------------------------------------------

def series(min_years=1, max_years=5, max_side=6):
    """Prediction, reference and validity stacks of the same (T, H, W) shape."""
    return st.tuples(st.integers(min_years, max_years), st.integers(1, max_side), st.integers(1, max_side)).flatmap(
        lambda shape: st.tuples(*(arrays(bool, shape) for _ in range(3))))


def years_for(t: int) -> list[int]:
    return list(range(2015, 2015 + t))


@settings(max_examples=150, deadline=None)
@given(series())
def test_lambda_zero_gives_tiou(masks):
    p, y, v = masks
    c = series_counts(p, y, v, years_for(len(p)))
    assert c.ca_tiou(0.0) == c.tiou


@settings(max_examples=150, deadline=None)
@given(series(), st.floats(0, 1))
def test_perfect_prediction_scores_one(masks, lam):
    _, y, v = masks
    c = series_counts(y, y, v, years_for(len(y)))
    if c.pooled.tp == 0:
        assert c.tiou is None and c.ca_tiou(lam) is None
    else:
        assert c.tiou == 1.0 and c.ca_tiou(lam) == 1.0
    assert c.ciou in (None, 1.0)
    assert c.pooled.fp == c.pooled.fn == 0


@settings(max_examples=200, deadline=None)
@given(series(), st.floats(0, 1))
def test_every_score_lies_in_the_unit_interval(masks, lam):
    p, y, v = masks
    years = years_for(len(p))
    pairs = [(a, b) for a in years for b in years if a < b]
    s = series_counts(p, y, v, years, pairs).summary(lam)
    scores = [s["tiou"], s["ciou"], s["ca_tiou"], *s["pooled"].values()]
    for figures in (*s["per_year"].values(), *s["change"].values()):
        scores += [figures[k] for k in ("oa", "precision", "recall", "f1", "iou")]
    for value in scores:
        assert value is None or 0.0 <= value <= 1.0 or isinstance(value, int)
    for value in (s["tiou"], s["ciou"], s["ca_tiou"]):
        assert value is None or 0.0 <= value <= 1.0


@settings(max_examples=150, deadline=None)
@given(series(min_years=2), st.data())
def test_pooling_two_sites_equals_their_concatenation(masks, data):
    p, y, v = masks
    years = years_for(len(p))
    pairs = [(years[0], years[-1])]
    width = p.shape[2]
    split = data.draw(st.integers(0, width))
    left = series_counts(p[..., :split], y[..., :split], v[..., :split], years, pairs)
    right = series_counts(p[..., split:], y[..., split:], v[..., split:], years, pairs)
    whole = series_counts(p, y, v, years, pairs)
    pooled = left + right
    assert pooled == whole
    micro = aggregate_sites({"left": left, "right": right}, lam=0.5)["micro"]
    assert micro["iou"] == whole.pooled.iou and micro["ca_tiou"] == whole.ca_tiou(lam=0.5)
    assert micro["tiou"] == whole.tiou and micro["ciou"] == whole.ciou
