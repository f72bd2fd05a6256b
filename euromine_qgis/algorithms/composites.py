"""euromine:composites in Processing: the spec's algorithm; the last year's composite of each site is
loaded when the run completes."""
from __future__ import annotations

from ..core.app import composites
from .base import EuroMineAlgorithm
from .layers import load_on_completion


class CompositesAlgorithm(EuroMineAlgorithm):
    """Builds annual composites of each site from a STAC API."""

    SPEC = composites.SPEC

    def present(self, outcome, values, context, feedback) -> dict:
        if values[composites.DRY_RUN.name]:
            return {}
        for site in outcome.value:
            made = [y for y in site.years if y.image is not None]
            if made:
                load_on_completion(context, made[-1].image, f"{site.name} {made[-1].year}", None)
        return {}
