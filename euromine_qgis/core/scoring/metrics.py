"""Benchmark metrics and CA-TIoU exactly as docs/metrics.md defines them.

Everything is built from integer counts that add up, so per-window, per-year, per-site and
pooled figures all come from the same sums. A ratio with a zero denominator is ``None``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

INTERVAL_CLASSES = ("annual", "medium", "long")
FOOTPRINT_SCORES = ("oa", "precision", "recall", "f1", "iou")


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when the denominator is zero (undefined)."""
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class Counts:
    """Confusion counts of a binary mining mask over valid pixels."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def oa(self) -> float | None:
        return ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn)

    @property
    def precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def iou(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp + self.fn)

    def as_dict(self) -> dict[str, int | float | None]:
        """Counts and the five scores (OA, precision, recall, F1, IoU) as plain values."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                **{name: getattr(self, name) for name in FOOTPRINT_SCORES}}


@dataclass(frozen=True)
class TransitionCounts:
    """CTP, CFP, CFN of the change term of CA-TIoU (gains and losses between consecutive years)."""

    ctp: int = 0
    cfp: int = 0
    cfn: int = 0

    def __add__(self, other: TransitionCounts) -> TransitionCounts:
        return TransitionCounts(self.ctp + other.ctp, self.cfp + other.cfp, self.cfn + other.cfn)

    @property
    def ciou(self) -> float | None:
        return ratio(self.ctp, self.ctp + self.cfp + self.cfn)

    def as_dict(self) -> dict[str, int | float | None]:
        return {"ctp": self.ctp, "cfp": self.cfp, "cfn": self.cfn, "ciou": self.ciou}


@dataclass(frozen=True)
class PairChange:
    """Binary change (Y_a ≠ Y_b) confusion counts for pairs of years, with the direction kept."""

    counts: Counts = Counts()
    reference_gain: int = 0
    reference_loss: int = 0
    predicted_gain: int = 0
    predicted_loss: int = 0
    pairs: int = 1

    def __add__(self, other: PairChange) -> PairChange:
        return PairChange(self.counts + other.counts,
                          self.reference_gain + other.reference_gain, self.reference_loss + other.reference_loss,
                          self.predicted_gain + other.predicted_gain, self.predicted_loss + other.predicted_loss,
                          self.pairs + other.pairs)

    def as_dict(self) -> dict[str, int | float | None]:
        return {**self.counts.as_dict(), "reference_gain": self.reference_gain,
                "reference_loss": self.reference_loss, "predicted_gain": self.predicted_gain,
                "predicted_loss": self.predicted_loss, "pairs": self.pairs}


def _same_window(a: PairChange, b: PairChange) -> PairChange:
    """Add the counts of one pair seen in two windows (or sites): still one pair."""
    total = a + b
    return PairChange(total.counts, total.reference_gain, total.reference_loss,
                      total.predicted_gain, total.predicted_loss, a.pairs)


def confusion(pred: NDArray[np.bool_], ref: NDArray[np.bool_], valid: NDArray[np.bool_]) -> Counts:
    """Confusion counts of boolean masks ``pred`` and ``ref`` over the pixels where ``valid``."""
    pred_valid = pred & valid
    tp = int(np.count_nonzero(pred_valid & ref))
    predicted = int(np.count_nonzero(pred_valid))
    actual = int(np.count_nonzero(ref & valid))
    total = int(np.count_nonzero(valid))
    return Counts(tp, predicted - tp, actual - tp, total - predicted - actual + tp)


def transition_counts(pred_before: NDArray[np.bool_], pred_after: NDArray[np.bool_], ref_before: NDArray[np.bool_],
                      ref_after: NDArray[np.bool_], valid: NDArray[np.bool_]) -> TransitionCounts:
    """Gain and loss agreement between two consecutive years on pixels valid in both (W_k)."""
    ref_gain = ref_after & ~ref_before & valid
    ref_loss = ref_before & ~ref_after & valid
    pred_gain = pred_after & ~pred_before & valid
    pred_loss = pred_before & ~pred_after & valid
    ctp = int(np.count_nonzero(pred_gain & ref_gain)) + int(np.count_nonzero(pred_loss & ref_loss))
    predicted = int(np.count_nonzero(pred_gain)) + int(np.count_nonzero(pred_loss))
    actual = int(np.count_nonzero(ref_gain)) + int(np.count_nonzero(ref_loss))
    return TransitionCounts(ctp, predicted - ctp, actual - ctp)


def pair_change(pred_a: NDArray[np.bool_], pred_b: NDArray[np.bool_], ref_a: NDArray[np.bool_],
                ref_b: NDArray[np.bool_], valid: NDArray[np.bool_]) -> PairChange:
    """Binary change metrics for years a < b on pixels valid in both, with gain/loss pixel counts."""
    counts = confusion(pred_a ^ pred_b, ref_a ^ ref_b, valid)
    ref_gain = int(np.count_nonzero(ref_b & ~ref_a & valid))
    pred_gain = int(np.count_nonzero(pred_b & ~pred_a & valid))
    return PairChange(counts, ref_gain, counts.tp + counts.fn - ref_gain,
                      pred_gain, counts.tp + counts.fp - pred_gain)


def interval_class(a: int, b: int) -> str:
    """The interval class of a pair of years: annual (Δ = 1), medium (2–4) or long (≥ 5)."""
    delta = b - a
    if delta < 1:
        raise ValueError(f"pair {a}-{b}: the first year must come before the second")
    return "annual" if delta == 1 else "medium" if delta <= 4 else "long"


def combine_ca_tiou(tiou: float | None, ciou: float | None, lam: float) -> float | None:
    """CA-TIoU = (1 − λ)·TIoU + λ·CIoU; TIoU alone when CIoU is undefined; None without TIoU."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"LAMBDA {lam} must lie between 0 and 1")
    if tiou is None:
        return None
    if ciou is None:
        return tiou
    return (1.0 - lam) * tiou + lam * ciou


@dataclass(frozen=True)
class SeriesCounts:
    """Everything needed to score one site (or a pool of sites) over the selected years."""

    per_year: Mapping[int, Counts]
    transitions: TransitionCounts = TransitionCounts()
    pairs: Mapping[tuple[int, int], PairChange] = field(default_factory=dict)

    @property
    def years(self) -> list[int]:
        return sorted(self.per_year)

    @property
    def pooled(self) -> Counts:
        """Counts summed over the years (the footprint term of CA-TIoU)."""
        return sum(self.per_year.values(), Counts())

    @property
    def tiou(self) -> float | None:
        return self.pooled.iou

    @property
    def ciou(self) -> float | None:
        return self.transitions.ciou

    def ca_tiou(self, lam: float) -> float | None:
        """Change-aware temporal IoU with weight ``lam`` on the change term."""
        return combine_ca_tiou(self.tiou, self.ciou, lam)

    def change_by_interval(self) -> dict[str, PairChange]:
        """Pair change counts pooled per interval class present, and over all pairs ("all")."""
        pooled: dict[str, PairChange] = {}
        for (a, b), change in sorted(self.pairs.items()):
            for key in (interval_class(a, b), "all"):
                pooled[key] = pooled[key] + change if key in pooled else change
        return {key: pooled[key] for key in (*INTERVAL_CLASSES, "all") if key in pooled}

    def __add__(self, other: SeriesCounts) -> SeriesCounts:
        """Pool two windows or sites: counts add per year, per transition and per pair."""
        per_year = dict(self.per_year)
        for year, counts in other.per_year.items():
            per_year[year] = per_year.get(year, Counts()) + counts
        pairs = dict(self.pairs)
        for key, change in other.pairs.items():
            pairs[key] = _same_window(pairs[key], change) if key in pairs else change
        return SeriesCounts(per_year, self.transitions + other.transitions, pairs)

    def summary(self, lam: float) -> dict[str, Any]:
        """Every figure as plain JSON-able values (None for undefined ratios)."""
        return {
            "years": self.years,
            "per_year": {str(y): self.per_year[y].as_dict() for y in self.years},
            "pooled": self.pooled.as_dict(),
            "tiou": self.tiou,
            "ciou": self.ciou,
            "ca_tiou": self.ca_tiou(lam),
            "lambda": lam,
            "transitions": self.transitions.as_dict(),
            "change": {k: v.as_dict() for k, v in self.change_by_interval().items()},
            "pairs": {f"{a}-{b}": c.as_dict() for (a, b), c in sorted(self.pairs.items())},
        }


def series_counts(pred: NDArray[np.bool_], ref: NDArray[np.bool_], valid: NDArray[np.bool_], years: Sequence[int],
                  pairs: Iterable[tuple[int, int]] = ()) -> SeriesCounts:
    """Count a stack of boolean masks of shape (T, ...) for the sorted ``years``.

    ``valid[t]`` is V_t (neither prediction nor reference nodata). Transitions run over
    consecutive entries of ``years``; ``pairs`` are (a, b) year pairs for change detection.
    """
    if list(years) != sorted(set(years)):
        raise ValueError(f"years {list(years)} must be distinct and increasing")
    if not (pred.shape == ref.shape == valid.shape) or pred.shape[0] != len(years):
        raise ValueError(f"masks {pred.shape}, {ref.shape}, {valid.shape} do not match {len(years)} years")
    per_year = {year: confusion(pred[t], ref[t], valid[t]) for t, year in enumerate(years)}
    transitions = TransitionCounts()
    for t in range(1, len(years)):
        both = valid[t - 1] & valid[t]
        transitions += transition_counts(pred[t - 1], pred[t], ref[t - 1], ref[t], both)
    index = {year: t for t, year in enumerate(years)}
    changes = {}
    for a, b in pairs:
        i, j = index[a], index[b]
        changes[(a, b)] = pair_change(pred[i], pred[j], ref[i], ref[j], valid[i] & valid[j])
    return SeriesCounts(per_year, transitions, changes)


def _site_scores(counts: SeriesCounts, lam: float) -> dict[str, float | None]:
    pooled = counts.pooled
    scores = {name: getattr(pooled, name) for name in FOOTPRINT_SCORES}
    scores.update(tiou=counts.tiou, ciou=counts.ciou, ca_tiou=counts.ca_tiou(lam))
    for key, change in counts.change_by_interval().items():
        scores[f"change_f1_{key}"] = change.counts.f1
        scores[f"change_iou_{key}"] = change.counts.iou
    return scores


def aggregate_sites(sites: Mapping[str, SeriesCounts], lam: float) -> dict[str, Any]:
    """Micro and macro figures over sites, each with the number of sites behind it.

    micro: counts pooled over all sites, then the formulas (``sites`` = sites pooled).
    macro: per score, the mean of the sites where it is defined (``sites`` = how many were).
    ``per_site`` holds every site's own scores.
    """
    per_site = {name: _site_scores(c, lam) for name, c in sites.items()}
    micro_counts = sum(sites.values(), SeriesCounts({}))
    micro = {"sites": len(sites), **_site_scores(micro_counts, lam)}
    names = sorted({key for scores in per_site.values() for key in scores})
    macro = {}
    for name in names:
        defined = [v for s in per_site.values() if (v := s.get(name)) is not None]
        macro[name] = {"value": float(np.mean(defined)) if defined else None, "sites": len(defined)}
    return {"lambda": lam, "micro": micro, "macro": macro, "per_site": per_site}
