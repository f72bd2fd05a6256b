"""euromine:detectchange — a change raster (gain / loss) between two dates."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.engine.change_routes import recommendation_html
from ..core.maps.bitemporal import METHODS, change_from_footprints, detect_change
from ..core.maps.preflight import check_run
from ..core.results import change_results
from ..core.years import match_years
from ..qgis_compat import NUMBER_INTEGER, SOURCE_RASTER
from .base import EuroMineAlgorithm, reporter_for
from .changelayers import GROUP as CHANGE_GROUP
from .inputs import layer_files
from .layers import load_on_completion
from .models import ModelChoice, bundled_model_parameter, load_model, model_parameters, read_image_input
from .parameters import (
    THRESHOLD,
    dry_run_parameter,
    dry_run_results,
    engine_parameters,
    model_file_parameter,
    read_dry_run,
    read_tile_settings,
    temporary_by_default,
)

CHANGE_ROUTES = "{change_routes}"  # where the help lists the METHOD the measurements favour
CHANGE_MODEL = ModelChoice("CHANGE_MODEL", "CHANGE_MODEL_FILE", "Change model", overrides=False)


class DetectChangeAlgorithm(EuroMineAlgorithm):
    """Gain and loss of mining between two dates, by change model, post-classification or footprints.

    Loads without onnxruntime: METHOD footprints needs no model."""

    ALG_ID = "detectchange"
    DISPLAY_NAME = "Detect change between two dates"
    GROUP = "Change"
    GROUP_ID = "change"

    METHOD = "METHOD"
    BEFORE = "BEFORE"
    AFTER = "AFTER"
    SERIES = "SERIES"
    BEFORE_YEAR = "BEFORE_YEAR"
    AFTER_YEAR = "AFTER_YEAR"
    CHANGE = "CHANGE"

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        """The help page, with the METHOD the recorded change-route measurements favour per interval length."""
        return super().shortHelpString().replace(CHANGE_ROUTES, recommendation_html())

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterEnum(
            self.METHOD, self.tr("Method"), options=list(METHODS), defaultValue="post_classification",
            usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.BEFORE, self.tr("Before (image, or footprint)"), optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.AFTER, self.tr("After (image, or footprint)"), optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.SERIES, self.tr("Or: annual series to pick the two years from"), SOURCE_RASTER,
            optional=True))
        for name, label in ((self.BEFORE_YEAR, self.tr("Before year (with SERIES)")),
                            (self.AFTER_YEAR, self.tr("After year (with SERIES)"))):
            self.addParameter(QgsProcessingParameterNumber(
                name, label, NUMBER_INTEGER, optional=True, minValue=1980, maxValue=2099))
        for p in model_parameters(("footprint",)):
            self.addParameter(p)
        self.addParameter(bundled_model_parameter(
            CHANGE_MODEL.bundled, self.tr("Bundled change model (METHOD change_model)"), ("change",)))
        self.addParameter(model_file_parameter(
            CHANGE_MODEL.file, self.tr("Own change model file (ONNX, overrides CHANGE_MODEL)")))
        for p in engine_parameters():
            self.addParameter(p)
        self.addParameter(temporary_by_default(QgsProcessingParameterRasterDestination(
            self.CHANGE, self.tr("Change (0 none, 1 gain, 2 loss)"))))
        self.addParameter(dry_run_parameter())

    def _dates(self, parameters, context) -> tuple[Path, Path]:
        """The before and after files: BEFORE and AFTER, or the years of SERIES."""
        before = parameters.get(self.BEFORE) and layer_files(parameters, self.BEFORE, context)
        after = parameters.get(self.AFTER) and layer_files(parameters, self.AFTER, context)
        if before and after:
            return before[0], after[0]
        series = layer_files(parameters, self.SERIES, context) if parameters.get(self.SERIES) else []
        if not series or None in (parameters.get(self.BEFORE_YEAR), parameters.get(self.AFTER_YEAR)):
            raise QgsProcessingException(self.tr("give BEFORE and AFTER, or a SERIES with BEFORE_YEAR and AFTER_YEAR"))
        a = self.parameterAsInt(parameters, self.BEFORE_YEAR, context)
        b = self.parameterAsInt(parameters, self.AFTER_YEAR, context)
        if a >= b:
            raise QgsProcessingException(self.tr("BEFORE_YEAR {a} must come before AFTER_YEAR {b}").format(a=a, b=b))
        (_, first), (_, second) = match_years(series, [a, b])
        return first, second

    def process(self, parameters, context, feedback) -> dict:
        method = self.parameterAsEnumString(parameters, self.METHOD, context)
        before, after = self._dates(parameters, context)
        if read_dry_run(self, parameters, context):  # before CHANGE is read: QGIS makes a temporary folder for it
            return self._dry_run(method, before, after, parameters, context, feedback)
        target = Path(self.parameterAsOutputLayer(parameters, self.CHANGE, context))
        if target.suffix.lower() not in (".tif", ".tiff"):
            raise QgsProcessingException(self.tr("{target}: CHANGE must be a GeoTIFF (.tif)").format(target=target))
        if method == "footprints":
            result = change_from_footprints(before, after, target, reporter_for(feedback))
        else:
            footprint_model = load_model(self, parameters, context, feedback)
            change_model = load_model(self, parameters, context, feedback, CHANGE_MODEL) \
                if method == "change_model" else None
            result = detect_change(
                before, after, target, footprint_model, change_model,
                threshold=self.parameterAsDouble(parameters, THRESHOLD, context),
                settings=read_tile_settings(self, parameters, context), reporter=reporter_for(feedback),
                image_input=read_image_input(self, parameters, context),
            )
        feedback.pushInfo(self.tr("Gain {gain} ha, loss {loss} ha, net {net} ha ({before} -> {after}, {method})").format(
            gain=f"{result.gain_ha:.2f}", loss=f"{result.loss_ha:.2f}", net=f"{result.net_ha:+.2f}",
            before=before.name, after=after.name, method=result.method))
        load_on_completion(context, target, self.tr("Change {before} → {after}").format(
            before=before.stem, after=after.stem), "change.qml", self.tr(CHANGE_GROUP))
        return change_results(target, result, before, after)

    def _dry_run(self, method: str, before: Path, after: Path, parameters, context, feedback) -> dict:
        """The pre-run check of the model(s) METHOD runs on the two dates; nothing is written."""
        if method == "footprints":
            raise QgsProcessingException(self.tr("DRY_RUN checks a model run; METHOD footprints runs no model"))
        footprint_model = load_model(self, parameters, context, feedback)
        change_model = load_model(self, parameters, context, feedback, CHANGE_MODEL) if method == "change_model" else None
        report = check_run([(None, before), (None, after)], footprint_model,
                           settings=read_tile_settings(self, parameters, context),
                           image_input=read_image_input(self, parameters, context), change_model=change_model,
                           threshold=self.parameterAsDouble(parameters, THRESHOLD, context), change=True)
        return {**dry_run_results({"": report}, footprint_model, feedback), self.METHOD: method}
