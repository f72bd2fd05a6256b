"""euromine:mapfootprints — annual mining footprint rasters from annual images."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterEnum,
    QgsProcessingParameterMultipleLayers,
)

from ..core.maps.footprints import PROBABILITY_TYPES, map_footprints
from ..core.maps.preflight import check_run
from ..core.results import footprint_results
from ..qgis_compat import SOURCE_RASTER
from .base import EuroMineAlgorithm, reporter_for
from .inputs import dated_layers
from .layers import load_on_completion
from .models import load_model, model_parameters, read_image_input
from .parameters import (
    MIN_AREA_HA,
    TEMPORAL_FILTER,
    THRESHOLD,
    dry_run_parameter,
    dry_run_results,
    engine_parameters,
    min_area_parameter,
    output_folder_parameter,
    read_dry_run,
    read_output_folder,
    read_tile_settings,
    temporal_filter_parameter,
    years_parameter,
)

PROBABILITY_CHOICES = ("none", *PROBABILITY_TYPES)
FOOTPRINT_GROUP = "EuroMine footprints"
PROBABILITY_GROUP = "EuroMine mining probabilities"


class MapFootprintsAlgorithm(EuroMineAlgorithm):
    """Maps the mining footprint of each selected year with a footprint model."""

    ALG_ID = "mapfootprints"
    DISPLAY_NAME = "Map mining footprints"
    GROUP = "Mapping"
    GROUP_ID = "mapping"
    NEEDS_MODELS = True

    IMAGES = "IMAGES"
    PROBABILITIES = "PROBABILITIES"
    FOOTPRINTS = "FOOTPRINTS"

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.IMAGES, self.tr("Annual images"), SOURCE_RASTER))
        self.addParameter(years_parameter())
        for p in (*model_parameters(), *engine_parameters()):
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterEnum(
            self.PROBABILITIES, self.tr("Also write mining probabilities"), options=list(PROBABILITY_CHOICES),
            defaultValue="none", usesStaticStrings=True))
        self.addParameter(temporal_filter_parameter())
        self.addParameter(min_area_parameter())
        self.addParameter(output_folder_parameter())
        self.addParameter(dry_run_parameter())
        self.addOutput(QgsProcessingOutputMultipleLayers(self.FOOTPRINTS, self.tr("Footprint rasters")))

    def process(self, parameters, context, feedback) -> dict:
        dated = dated_layers(self, parameters, self.IMAGES, context)
        probabilities = self.parameterAsEnumString(parameters, self.PROBABILITIES, context)
        model = load_model(self, parameters, context, feedback)
        run = {  # the arguments map_footprints and its pre-run check share
            "threshold": self.parameterAsDouble(parameters, THRESHOLD, context),
            "settings": read_tile_settings(self, parameters, context),
            "probabilities": None if probabilities == "none" else probabilities,
            "temporal_filter": self.parameterAsEnumString(parameters, TEMPORAL_FILTER, context),
            "min_area_ha": self.parameterAsDouble(parameters, MIN_AREA_HA, context),
            "image_input": read_image_input(self, parameters, context),
        }
        if read_dry_run(self, parameters, context):  # before OUTPUT_FOLDER is read: QGIS makes a temporary one
            return dry_run_results({"": check_run(dated, model, **run)}, model, feedback)
        out_dir = read_output_folder(self, parameters, context)
        results = map_footprints(dated, model, out_dir, reporter=reporter_for(feedback), **run)
        feedback.pushInfo(self.tr("\nYear   Mining area (ha)   Footprint"))
        for r in results:
            feedback.pushInfo(f"{r.year}   {r.mining_ha:16.2f}   {r.footprint}")
            # every year checked in collapsed groups: the Temporal Controller draws one year at a time
            load_on_completion(context, r.footprint, self.tr("Footprint {year}").format(year=r.year),
                               "footprint.qml", self.tr(FOOTPRINT_GROUP), span=(r.year, r.year), expanded=False)
            if r.probability:
                load_on_completion(context, r.probability, self.tr("Mining probability {year}").format(year=r.year),
                                   f"probability_{probabilities}.qml", self.tr(PROBABILITY_GROUP),
                                   span=(r.year, r.year), group_checked=False, expanded=False)
        return footprint_results(out_dir, results, model)
