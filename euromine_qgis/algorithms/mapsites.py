"""euromine:mapsites in Processing: the spec's algorithm, with the footprint polygons only QGIS
draws (FOOTPRINT_POLYGONS) and the summary table loaded when the run completes."""
from __future__ import annotations

from pathlib import Path

from ..core.app import mapsites
from ..core.app.params import FOOTPRINT_POLYGONS
from .base import EuroMineAlgorithm
from .footprint_polygons import write_footprint_polygons
from .layers import load_on_completion


class MapSitesAlgorithm(EuroMineAlgorithm):
    """Runs mapfootprints, changelayers and (where labelled) evaluate over many sites."""

    SPEC = mapsites.SPEC

    def present(self, outcome, values, context, feedback) -> dict:
        result = outcome.value
        if result is None:  # a dry run
            return {}
        polygons = values[FOOTPRINT_POLYGONS.name]
        if polygons is not None:
            write_footprint_polygons(polygons, [(o.name, int(y), o.folder / p) for o in result.sites
                                                for y, p in o.record["footprints"].items()], context, feedback)
            load_on_completion(context, polygons, self.tr("EuroMine footprint polygons"), None, vector=True,
                               year_field="year")
        load_on_completion(context, Path(result.table), self.tr("EuroMine sites summary"), None, vector=True)
        return {FOOTPRINT_POLYGONS.name: str(polygons) if polygons else None}
