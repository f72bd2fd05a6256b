"""euromine:mapfootprints in Processing: the spec's algorithm, with each year's footprint (and
probability) loaded in collapsed groups when the run completes."""
from __future__ import annotations

from ..core.app import mapfootprints
from .base import EuroMineAlgorithm
from .layers import load_on_completion

FOOTPRINT_GROUP = "EuroMine footprints"
PROBABILITY_GROUP = "EuroMine mining probabilities"


class MapFootprintsAlgorithm(EuroMineAlgorithm):
    """Maps the mining footprint of each selected year with a footprint model."""

    SPEC = mapfootprints.SPEC

    def present(self, outcome, values, context, feedback) -> dict:
        """Every year checked in collapsed groups: the Temporal Controller draws one year at a time."""
        for r in outcome.value or ():
            load_on_completion(context, r.footprint, self.tr("Footprint {year}").format(year=r.year),
                               "footprint.qml", self.tr(FOOTPRINT_GROUP), span=(r.year, r.year), expanded=False)
            if r.probability:
                load_on_completion(context, r.probability, self.tr("Mining probability {year}").format(year=r.year),
                                   f"probability_{values[mapfootprints.PROBABILITIES.name]}.qml",
                                   self.tr(PROBABILITY_GROUP), span=(r.year, r.year), group_checked=False,
                                   expanded=False)
        return {}
