"""euromine:evaluate in Processing: the spec's algorithm as it is (it loads no layer)."""
from __future__ import annotations

from ..core.app import evaluate
from .base import EuroMineAlgorithm


class EvaluateAlgorithm(EuroMineAlgorithm):
    """Scores annual footprint predictions against reference masks, per year, pooled and over time."""

    SPEC = evaluate.SPEC
