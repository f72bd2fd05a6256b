"""euromine:changelayers — first/last year mined, years active, flicker, change rasters and areas."""
from __future__ import annotations

import tempfile
from contextlib import nullcontext
from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingUtils,
)

from ..core.maps.change_layers import ChangeLayersResult, change_layers
from ..core.pairs import parse_pairs
from .base import EuroMineAlgorithm, reporter_for
from .inputs import dated_layers
from .layers import load_on_completion
from .parameters import (
    OUTPUT_FOLDER,
    PAIRS,
    TEMPORAL_FILTER,
    output_folder_parameter,
    pairs_parameter,
    read_output_folder,
    temporal_filter_parameter,
    years_parameter,
)
from .polygons import write_change_polygons

GROUP = "EuroMine change layers"
SUMMARIES = (  # result name, layer name, style
    ("FIRST_YEAR", "First year mined", "first_year.qml"),
    ("LAST_YEAR", "Last year mined", "first_year.qml"),
    ("YEARS_ACTIVE", "Years active", "years_active.qml"),
    ("TRANSITIONS", "Transitions (on/off switches)", "transitions.qml"),
)


def pair_key(pair: tuple[int, int]) -> str:
    """The result-dict key of a pair of years, ``"2016-2017"``."""
    return f"{pair[0]}-{pair[1]}"


def results_of(result: ChangeLayersResult, out_dir: Path) -> dict:
    """The algorithm's result dict for a core result."""
    summaries = dict(zip((name for name, _, _ in SUMMARIES),
                         (result.first_year, result.last_year, result.years_active, result.transitions)))
    return {
        OUTPUT_FOLDER: str(out_dir),
        "YEARS": result.years,
        **{name: str(path) for name, path in summaries.items()},
        "CHANGE": {pair_key(p): str(path) for p, path in result.change.items()},
        "AREA_HA": {str(y): ha for y, ha in result.area_ha.items()},
        "GAIN_HA": {pair_key(p): a.gain_ha for p, a in result.pairs.items()},
        "LOSS_HA": {pair_key(p): a.loss_ha for p, a in result.pairs.items()},
        "NET_HA": {pair_key(p): a.net_ha for p, a in result.pairs.items()},
        "AREA_TABLE": str(result.table),
    }


class ChangeLayersAlgorithm(EuroMineAlgorithm):
    """Derives per-pixel histories, change rasters and mined areas from annual footprints."""

    ALG_ID = "changelayers"
    DISPLAY_NAME = "Change layers from annual footprints"
    GROUP = "Change"
    GROUP_ID = "change"

    FOOTPRINTS = "FOOTPRINTS"
    AREA_TABLE = "AREA_TABLE"
    VECTOR_OUTPUT = "VECTOR_OUTPUT"

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.FOOTPRINTS, self.tr("Annual footprints (one per year)"), QgsProcessing.TypeRaster))
        self.addParameter(years_parameter())
        self.addParameter(pairs_parameter(default="consecutive"))
        self.addParameter(temporal_filter_parameter())
        self.addParameter(output_folder_parameter())
        self.addParameter(QgsProcessingParameterFileDestination(
            self.AREA_TABLE, self.tr("Area table"), self.tr("CSV files (*.csv)"), optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.VECTOR_OUTPUT, self.tr("Also write polygons (GeoPackage, area_ha per polygon)"), defaultValue=False))
        for name, description, _ in SUMMARIES:
            self.addOutput(QgsProcessingOutputRasterLayer(name, self.tr(description)))

    def process(self, parameters, context, feedback) -> dict:
        dated = dated_layers(self, parameters, self.FOOTPRINTS, context)
        years = [y for y, _ in dated]
        out_dir = read_output_folder(self, parameters, context)
        table = self.parameterAsFileOutput(parameters, self.AREA_TABLE, context)
        vector = self.parameterAsBoolean(parameters, self.VECTOR_OUTPUT, context)
        # Polygons are drawn from the (filtered) masks the areas measure, kept only while drawn.
        with (tempfile.TemporaryDirectory(dir=QgsProcessingUtils.tempFolder()) if vector else nullcontext()) as masks:
            result = change_layers(dated, parse_pairs(self.parameterAsString(parameters, PAIRS, context), years),
                                   out_dir, reporter_for(feedback), Path(table) if table else None,
                                   self.parameterAsEnumString(parameters, TEMPORAL_FILTER, context),
                                   Path(masks) if vector else None)
            gpkg = write_change_polygons(out_dir / "change_polygons.gpkg", result.change, result.masks, context,
                                         feedback) if vector else None
        feedback.pushInfo(self.tr("\nYear   Mined (ha)   Gain (ha)   Loss (ha)"))
        for year in result.years:
            step = next((a for (_, b), a in result.steps.items() if b == year), None)
            gain_loss = "" if step is None else f"{step.gain_ha:11.2f} {step.loss_ha:11.2f}"
            feedback.pushInfo(f"{year} {result.area_ha[year]:12.2f} {gain_loss}")
        outputs = results_of(result, out_dir)
        outputs[self.VECTOR_OUTPUT] = str(gpkg) if gpkg else None
        group = self.tr(GROUP)
        for name, layer_name, qml in SUMMARIES:
            load_on_completion(context, Path(outputs[name]), self.tr(layer_name), qml, group,
                               years=years if qml == "first_year.qml" else ())
        for (a, b), path in result.change.items():
            load_on_completion(context, path, self.tr("Change {a}–{b}").format(a=a, b=b), "change.qml", group)
        load_on_completion(context, result.table, self.tr("Mined area per year"), None, group, vector=True)
        return outputs
