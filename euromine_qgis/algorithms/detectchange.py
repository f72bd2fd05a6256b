"""euromine:detectchange in Processing: the spec's algorithm, with the change raster loaded in the
change layers' group. Loads without onnxruntime: METHOD footprints needs no model."""
from __future__ import annotations

from pathlib import Path

from ..core.app import detectchange
from .base import EuroMineAlgorithm
from .changelayers import GROUP as CHANGE_GROUP
from .layers import load_on_completion


class DetectChangeAlgorithm(EuroMineAlgorithm):
    """Gain and loss of mining between two dates, by change model, post-classification or footprints."""

    SPEC = detectchange.SPEC

    def present(self, outcome, values, context, feedback) -> dict:
        if outcome.value is not None:  # not a dry run
            before, after = (Path(outcome.results[k]) for k in ("BEFORE", "AFTER"))
            load_on_completion(context, Path(outcome.results["CHANGE"]), self.tr("Change {before} → {after}").format(
                before=before.stem, after=after.stem), "change.qml", self.tr(CHANGE_GROUP))
        return {}
