"""euromine:changelayers in Processing: the spec's algorithm, with the polygons only QGIS draws
(VECTOR_OUTPUT, FOOTPRINT_POLYGONS) and every layer loaded with its years for the Temporal
Controller when the run completes."""
from __future__ import annotations

import tempfile
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from qgis.core import QgsProcessingUtils

from ..core.app import changelayers
from ..core.app.execution import run_spec
from ..core.app.params import FOOTPRINT_POLYGONS, OUTPUT_FOLDER
from ..core.app.spec import Outcome
from .base import EuroMineAlgorithm
from .footprint_polygons import write_footprint_polygons
from .layers import load_on_completion
from .mapfootprints import FOOTPRINT_GROUP, PROBABILITY_GROUP
from .polygons import write_change_polygons
from .translation import tr

GROUP = "EuroMine change layers"
SUMMARIES = (  # result name, layer name, style
    ("FIRST_YEAR", "First year mined", "first_year.qml"),
    ("LAST_YEAR", "Last year mined", "first_year.qml"),
    ("YEARS_ACTIVE", "Years active", "years_active.qml"),
    ("TRANSITIONS", "Transitions (on/off switches)", "transitions.qml"),
)
SHOWN = ("FIRST_YEAR", "YEARS_ACTIVE")  # the summaries checked when loaded; the other layers start unchecked


class ChangeLayersAlgorithm(EuroMineAlgorithm):
    """Derives per-pixel histories, change rasters and mined areas from annual footprints."""

    SPEC = changelayers.SPEC

    def execute(self, values, reporter, context, feedback) -> Outcome:
        """The use case, keeping the (filtered, sieved) masks the areas measure while polygons are
        drawn from them."""
        vector, polygons = values[changelayers.VECTOR_OUTPUT.name], values[FOOTPRINT_POLYGONS.name]
        drawn = vector or polygons is not None
        with tempfile.TemporaryDirectory(dir=QgsProcessingUtils.tempFolder()) if drawn else nullcontext() as masks:
            values.extra[changelayers.MASKS.name] = Path(masks) if masks else None
            outcome = run_spec(self.SPEC, values, reporter)
            result, out_dir = outcome.value, values[OUTPUT_FOLDER.name]
            if polygons is not None:
                site = values[changelayers.SITE_NAME.name] or out_dir.name
                write_footprint_polygons(polygons, [(site, y, p) for y, p in result.masks.items()], context, feedback)
            gpkg = write_change_polygons(out_dir / "change_polygons.gpkg", result.change, result.masks, context,
                                         feedback) if vector else None
        outcome.results.update({changelayers.VECTOR_OUTPUT.name: str(gpkg) if gpkg else None,
                                FOOTPRINT_POLYGONS.name: str(polygons) if polygons else None})
        return outcome

    def present(self, outcome, values, context, feedback) -> dict:
        result, outputs = outcome.value, outcome.results
        below = (tr(FOOTPRINT_GROUP), tr(PROBABILITY_GROUP))  # the year's footprint draws over the summaries
        if outputs[FOOTPRINT_POLYGONS.name]:
            load_on_completion(context, Path(outputs[FOOTPRINT_POLYGONS.name]), self.tr("Footprint polygons per year"),
                               None, self.tr(GROUP), vector=True, year_field="year", checked=False, below=below)
        load = partial(load_on_completion, context, group=self.tr(GROUP), below=below)
        span = (result.years[0], result.years[-1])  # summaries cover every year: drawn at every time step
        for name, layer_name, qml in SUMMARIES:
            load(Path(outputs[name]), self.tr(layer_name), qml, years=result.years if qml == "first_year.qml" else (),
                 span=span, checked=name in SHOWN)
        for (a, b), path in result.change.items():  # the change seen from year a + 1 up to year b
            load(path, self.tr("Change {a}–{b}").format(a=a, b=b), "change.qml", span=(a + 1, b), checked=False)
        load(result.table, self.tr("Mined area per year"), None, vector=True)
        load(result.trajectory, self.tr("Trajectory"), "trajectory.qml", span=span, checked=False)
        return {}
