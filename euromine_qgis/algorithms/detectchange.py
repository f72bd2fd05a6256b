"""euromine:detectchange — a change raster (gain / loss) between two dates."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.engine.bundled import SYNTHETIC_LABEL, resolve_bundled
from ..core.engine.model import Model
from ..core.errors import EuroMineError
from ..core.maps.bitemporal import METHODS, change_from_footprints, detect_change
from ..core.years import match_years
from .change_layers import GROUP as CHANGE_GROUP
from .common import (
    EuroMineAlgorithm,
    bundled_model_parameter,
    engine_parameters,
    layer_files,
    load_model,
    load_on_completion,
    model_help,
    model_parameters,
    processing_error,
    reporter_for,
    tile_settings,
)


class DetectChangeAlgorithm(EuroMineAlgorithm):
    """Gain and loss of mining between two dates, by change model, post-classification or footprints."""

    ALG_ID = "detectchange"
    DISPLAY_NAME = "Detect change between two dates"
    GROUP = "Change"
    GROUP_ID = "change"

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return (
            "<p>Writes one <b>CHANGE</b> raster on the input grid: 0 no change, 1 new mining (gain), "
            "2 mining ended (loss), 255 nodata, and returns the gained, lost and net area in hectares "
            "(exact for the CRS).</p>"
            "<p><b>METHOD</b>: <code>post_classification</code> maps both dates with the footprint "
            "<b>MODEL</b> (or <b>MODEL_FILE</b>) and compares the maps; <code>change_model</code> runs the "
            "bundled bitemporal <b>CHANGE_MODEL</b>, or your own <b>CHANGE_MODEL_FILE</b> (EuroMine ONNX model "
            "with task \"change\": two inputs "
            "(before, after) or one stacked input) and splits its change into gain or loss by whether the "
            "footprint model's mining probability rose or fell; <code>footprints</code> compares two "
            "footprint rasters you already have (BEFORE and AFTER are then footprints).</p>"
            "<p><b>BEFORE</b> and <b>AFTER</b>: the two images, or leave them empty and give a "
            "<b>SERIES</b> of annual images with <b>BEFORE_YEAR</b> and <b>AFTER_YEAR</b> (years read from "
            "the file names). Both dates must share one grid. THRESHOLD applies to the footprint and change "
            "probabilities. Advanced: DEVICE, TILE_OVERLAP, BATCH_SIZE, BANDS/MEAN/STD.</p>"
            f"<p>Bundled models:</p><ul>{model_help()}</ul>"
            "<p>Results: CHANGE, METHOD, GAIN_HA, LOSS_HA, NET_HA, BEFORE, AFTER.</p>"
            "<p>Example: <code>processing.run('euromine:detectchange', {'SERIES': [...], "
            "'BEFORE_YEAR': 2016, 'AFTER_YEAR': 2021, 'METHOD': 'post_classification', "
            "'MODEL': 'spectral_baseline', 'CHANGE': '/tmp/change_2016_2021.tif'})</code></p>"
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterEnum(
            "METHOD", "Method", options=list(METHODS), defaultValue="post_classification", usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterRasterLayer("BEFORE", "Before (image, or footprint)", optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer("AFTER", "After (image, or footprint)", optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "SERIES", "Or: annual series to pick the two years from", QgsProcessing.TypeRaster, optional=True))
        for name, label in (("BEFORE_YEAR", "Before year (with SERIES)"), ("AFTER_YEAR", "After year (with SERIES)")):
            self.addParameter(QgsProcessingParameterNumber(
                name, label, QgsProcessingParameterNumber.Integer, optional=True, minValue=1980, maxValue=2099))
        for p in model_parameters(("footprint",)):
            self.addParameter(p)
        self.addParameter(bundled_model_parameter("CHANGE_MODEL", "Bundled change model (METHOD change_model)",
                                                  ("change",)))
        self.addParameter(QgsProcessingParameterFile(
            "CHANGE_MODEL_FILE", "Own change model file (ONNX, overrides CHANGE_MODEL)",
            behavior=QgsProcessingParameterFile.File, extension="onnx", optional=True))
        for p in engine_parameters():
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterRasterDestination("CHANGE", "Change (0 none, 1 gain, 2 loss)"))

    def _dates(self, parameters, context) -> tuple[Path, Path]:
        before = parameters.get("BEFORE") and layer_files(parameters, "BEFORE", context)
        after = parameters.get("AFTER") and layer_files(parameters, "AFTER", context)
        if before and after:
            return before[0], after[0]
        series = layer_files(parameters, "SERIES", context) if parameters.get("SERIES") else []
        years = [parameters.get(n) for n in ("BEFORE_YEAR", "AFTER_YEAR")]
        if not series or None in years:
            raise QgsProcessingException("give BEFORE and AFTER, or a SERIES with BEFORE_YEAR and AFTER_YEAR")
        a, b = (self.parameterAsInt(parameters, n, context) for n in ("BEFORE_YEAR", "AFTER_YEAR"))
        if a >= b:
            raise QgsProcessingException(f"BEFORE_YEAR {a} must come before AFTER_YEAR {b}")
        try:
            (_, first), (_, second) = match_years(series, [a, b])
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        return first, second

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        method = self.parameterAsEnumString(parameters, "METHOD", context)
        before, after = self._dates(parameters, context)
        target = Path(self.parameterAsOutputLayer(parameters, "CHANGE", context))
        if target.suffix.lower() not in (".tif", ".tiff"):
            raise QgsProcessingException(f"{target}: CHANGE must be a GeoTIFF (.tif)")
        reporter = reporter_for(feedback)
        try:
            if method == "footprints":
                result = change_from_footprints(before, after, target, reporter)
            else:
                footprint_model = load_model(self, parameters, context, feedback)
                change_model = None
                if method == "change_model":
                    path = self.parameterAsFile(parameters, "CHANGE_MODEL_FILE", context)
                    name = self.parameterAsEnumString(parameters, "CHANGE_MODEL", context)
                    if not path and not name:
                        raise QgsProcessingException("METHOD change_model needs a CHANGE_MODEL or CHANGE_MODEL_FILE")
                    change_model = Model(Path(path) if path else resolve_bundled(name),
                                         device=self.parameterAsEnumString(parameters, "DEVICE", context))
                    if change_model.info.synthetic:
                        feedback.reportError(f"Change model '{change_model.info.name}': {SYNTHETIC_LABEL}", fatalError=False)
                result = detect_change(
                    before, after, target, footprint_model, change_model,
                    threshold=self.parameterAsDouble(parameters, "THRESHOLD", context),
                    settings=tile_settings(self, parameters, context), reporter=reporter,
                )
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        feedback.pushInfo(f"Gain {result.gain_ha:.2f} ha, loss {result.loss_ha:.2f} ha, net {result.net_ha:+.2f} ha "
                          f"({before.name} -> {after.name}, {result.method})")
        load_on_completion(context, target, f"Change {before.stem} → {after.stem}", "change.qml", CHANGE_GROUP)
        return {"CHANGE": str(target), "METHOD": result.method, "GAIN_HA": result.gain_ha, "LOSS_HA": result.loss_ha,
                "NET_HA": result.net_ha, "BEFORE": str(before), "AFTER": str(after)}
