"""What every EuroMine algorithm shares: model parameters, input files, feedback, error translation
and styled loading of outputs."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsGradientColorRamp,
    QgsGradientStop,
    QgsMapLayer,
    QgsMessageLog,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsProject,
)
from qgis.PyQt import sip
from qgis.PyQt.QtGui import QIcon

from ..core.engine.bundled import bundled_models, resolve_bundled
from ..core.errors import EuroMineError, InputError, ModelError
from ..core.io.raster import inspect_image
from ..core.progress import Reporter
from ..environment import GPU, check_environment

if TYPE_CHECKING:
    from ..core.engine.inference import TileSettings
    from ..core.engine.model import Model

STYLES = Path(__file__).resolve().parent.parent / "styles"
ICONS = Path(__file__).resolve().parent.parent / "icons"  # one <ALG_ID>.svg per algorithm
# core.devices, core.inference and core.model need onnxruntime: they are imported where a model is
# used, so that the algorithms without a model load without it (see provider.py).


class EuroMineAlgorithm(QgsProcessingAlgorithm):
    """Base of the EuroMine algorithms: identity from class attributes, instances of the subclass."""

    ALG_ID = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""

    def name(self) -> str:
        return self.ALG_ID

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.DISPLAY_NAME

    def group(self) -> str:
        return self.GROUP

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        return self.GROUP_ID

    def createInstance(self) -> "EuroMineAlgorithm":  # noqa: N802 (QGIS API)
        return type(self)()

    def svgIconPath(self) -> str:  # noqa: N802 (QGIS API)
        return str(ICONS / f"{self.ALG_ID}.svg")

    def icon(self) -> QIcon:
        return QIcon(self.svgIconPath())

    def checkParameterValues(self, parameters: dict, context: QgsProcessingContext) -> tuple[bool, str]:  # noqa: N802 (QGIS API)
        """QGIS's own check; where it refuses a raster input, the message names the file and its
        problem instead of QGIS's "Incorrect parameter value for IMAGES"."""
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            return ok, message
        return False, raster_input_problem(self, parameters, context) or message


def reporter_for(feedback: QgsProcessingFeedback) -> Reporter:
    """Route engine progress, log lines and cancellation through a Processing feedback."""
    return Reporter(progress=feedback.setProgress, info=feedback.pushInfo, is_canceled=feedback.isCanceled)


def raster_input_problem(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> str | None:
    """What is wrong with the first raster input value QGIS cannot load, in the engine's words
    (missing, empty, not a raster, truncated), or None when every value is a usable raster."""
    for definition in alg.parameterDefinitions():
        if definition.type() not in ("raster", "multilayer"):
            continue
        values = parameters.get(definition.name())
        for value in values if isinstance(values, (list, tuple)) else [values]:
            if not isinstance(value, str) or not value:
                continue
            path = Path(value)
            if not path.exists() and QgsProcessingUtils.mapLayerFromString(value, context) is not None:
                continue  # a layer of the project, by id or name
            try:
                inspect_image(path)
            except InputError as exc:
                return f"{definition.name()}: {exc}"
    return None


def processing_error(exc: EuroMineError) -> QgsProcessingException:
    """The engine's typed error as the exception Processing shows to the user."""
    return QgsProcessingException(str(exc))


def layer_sources(parameters: dict, name: str, context) -> list[tuple[Path, str]]:
    """(file, layer name) of each raster of a multiple-layers value, without loading files given as
    paths as layers (QGIS logs GDAL errors for every label without a geotransform it loads).

    The value may be layers, paths, layer ids or names, or one text of them separated by ``;``:
    the batch dialog passes several files chosen for one row that way.
    """
    values = parameters.get(name)
    values = values if isinstance(values, (list, tuple)) else [] if values is None else [values]
    if len(values) == 1 and isinstance(values[0], str) and ";" in values[0] and not Path(values[0]).is_file():
        values = [v for v in values[0].split(";") if v.strip()]
    sources = []
    for value in values:
        layer = value if isinstance(value, QgsMapLayer) else None
        if layer is None and not Path(str(value)).is_file():
            layer = QgsProcessingUtils.mapLayerFromString(str(value), context)
            if layer is None:
                raise QgsProcessingException(f"{name}: {value} is neither a raster file nor a loaded layer")
        source = Path(layer.source() if layer is not None else str(value))
        if not source.is_file():
            raise QgsProcessingException(f"{name}: {layer.name()} is not a file-based raster ({source})")
        sources.append((source, layer.name() if layer is not None else source.stem))
    if not sources:
        raise QgsProcessingException(f"{name}: give at least one raster")
    return sources


def layer_files(parameters: dict, name: str, context) -> list[Path]:
    """The files of a multiple-layers value (see layer_sources)."""
    return [path for path, _ in layer_sources(parameters, name, context)]


# Tasks whose models map annual footprints: per-year models and series models (all years at once).
FOOTPRINT_TASKS = ("footprint", "footprint_series")


def bundled_model_parameter(name: str, description: str, tasks: tuple[str, ...], default: str | None = None
                            ) -> QgsProcessingParameterEnum:
    """An optional enum of the bundled models of ``tasks`` (names as static strings)."""
    try:
        names = [m.name for m in bundled_models() if m.task in tasks]
    except ModelError as exc:  # a damaged install: own model files (MODEL_FILE) still work
        QgsMessageLog.logMessage(str(exc), "EuroMine", Qgis.Warning)
        names = []
    if default not in names:
        default = names[0] if names else None
    return QgsProcessingParameterEnum(
        name, description, options=names, defaultValue=default, optional=True, usesStaticStrings=True,
    )


def model_parameters(tasks: tuple[str, ...] = FOOTPRINT_TASKS) -> list[QgsProcessingParameterDefinition]:
    """MODEL (bundled models of ``tasks``), MODEL_FILE, DEVICE and the normalization overrides
    (BANDS, MEAN, STD)."""
    from ..core.engine.devices import DEVICES

    model = bundled_model_parameter("MODEL", "Bundled model", tasks, default="spectral_baseline")
    model_file = QgsProcessingParameterFile(
        "MODEL_FILE", "Own ONNX model file (overrides MODEL)",
        behavior=QgsProcessingParameterFile.File, extension="onnx", optional=True,
    )
    device = QgsProcessingParameterEnum(
        "DEVICE", "Execution device", options=list(DEVICES), defaultValue="auto", usesStaticStrings=True,
    )
    bands = QgsProcessingParameterString(
        "BANDS", "Band names for a model without metadata (comma-separated)", optional=True,
    )
    mean = QgsProcessingParameterString("MEAN", "Per-band mean for normalization (comma-separated)", optional=True)
    std = QgsProcessingParameterString("STD", "Per-band std for normalization (comma-separated)", optional=True)
    for p in (device, bands, mean, std):
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return [model, model_file, device, bands, mean, std]


def engine_parameters() -> list[QgsProcessingParameterDefinition]:
    """THRESHOLD, and the advanced TILE_OVERLAP and BATCH_SIZE of the inference engine."""
    threshold = QgsProcessingParameterNumber(
        "THRESHOLD", "Probability threshold", QgsProcessingParameterNumber.Double,
        defaultValue=0.5, minValue=0.0, maxValue=1.0,
    )
    overlap = QgsProcessingParameterNumber(
        "TILE_OVERLAP", "Tile overlap (pixels)", QgsProcessingParameterNumber.Integer, defaultValue=32, minValue=0,
    )
    batch = QgsProcessingParameterNumber(
        "BATCH_SIZE", "Tiles per batch (0 = automatic: 32 on a GPU, 4 on a CPU)",
        QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0,
    )
    for p in (overlap, batch):
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return [threshold, overlap, batch]


def tile_settings(alg, parameters: dict, context: QgsProcessingContext) -> TileSettings:
    """The engine's tiling from TILE_OVERLAP and BATCH_SIZE."""
    from ..core.engine.inference import TileSettings

    return TileSettings(
        overlap=alg.parameterAsInt(parameters, "TILE_OVERLAP", context),
        batch_size=alg.parameterAsInt(parameters, "BATCH_SIZE", context),
    )


def model_help() -> str:
    """The bundled models, labelled, for shortHelpString."""
    try:
        return "".join(f"<li><b>{m.name}</b>: {m.label}</li>" for m in bundled_models())
    except ModelError as exc:
        return f"<li>{exc}</li>"


def _float_list(text: str, name: str) -> tuple[float, ...] | None:
    if not text.strip():
        return None
    try:
        return tuple(float(v) for v in text.replace(";", ",").split(","))
    except ValueError as exc:
        raise QgsProcessingException(f"{name} '{text}': expected comma-separated numbers") from exc


def load_model(alg, parameters: dict, context: QgsProcessingContext,
               feedback: QgsProcessingFeedback) -> Model:
    """The model chosen by MODEL_FILE (if given) or MODEL, on DEVICE, with any overrides; the log
    says which execution provider and device run it, and how to use an idle NVIDIA GPU."""
    from ..core.engine.model import Model, NormalizationOverride

    model_file = alg.parameterAsFile(parameters, "MODEL_FILE", context)
    try:
        if model_file:
            path = Path(model_file)
        else:
            name = alg.parameterAsEnumString(parameters, "MODEL", context)
            if not name:
                raise QgsProcessingException("choose a bundled MODEL or give a MODEL_FILE")
            path = resolve_bundled(name)
        bands = alg.parameterAsString(parameters, "BANDS", context)
        override = NormalizationOverride(
            bands=tuple(b.strip() for b in bands.split(",") if b.strip()) or None,
            mean=_float_list(alg.parameterAsString(parameters, "MEAN", context), "MEAN"),
            std=_float_list(alg.parameterAsString(parameters, "STD", context), "STD"),
        )
        model = Model(path, device=alg.parameterAsEnumString(parameters, "DEVICE", context), override=override)
    except EuroMineError as exc:
        raise processing_error(exc) from exc
    feedback.pushInfo(f"Execution provider: {model.provider} on {model.device_name}")
    for problem in check_environment():
        if problem.affects == GPU and model.provider == "CPUExecutionProvider":
            feedback.reportError(problem.message(), fatalError=False)
    if model.info.synthetic:  # a warning: orange in the dialog, WARNING in qgis_process, not a failure
        feedback.pushWarning(
            f"Model '{model.info.name}' was trained on synthetic sites — retrain on EuroMineNet for real analysis."
        )
    return model


class StyledLayer(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer loaded on completion and files it under a layer-tree group.

    ``qml``: a file of styles/ (None: no style). ``years``: recolour a year-valued raster's
    exact-value ramp (styles/first_year.qml) for exactly these years. ``group``: QGIS 3.22's
    LayerDetails has no group name, so the layer's node is moved into this top-level group here.
    """

    def __init__(self, qml: str | None, group: str | None = None, years: Sequence[int] = ()) -> None:
        super().__init__()
        self.qml = str(STYLES / qml) if qml else None
        self.group = group
        self.years = list(years)

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 (QGIS API)
        if layer is None or not layer.isValid():
            return
        if self.qml:
            layer.loadNamedStyle(self.qml)
        if self.years:
            _spread_year_ramp(layer, self.years)
        if self.group:
            _move_to_group(layer.project() or context.project() or QgsProject.instance(), layer, self.group)
        layer.triggerRepaint()


def _spread_year_ramp(layer, years: Sequence[int]) -> None:
    """One colour per year, sampled along the style's own colour items, so the legend lists the data's years."""
    shader = layer.renderer().shader().rasterShaderFunction()
    colors = [item.color for item in shader.colorRampItemList()]
    stops = [QgsGradientStop(i / (len(colors) - 1), c) for i, c in enumerate(colors[1:-1], start=1)]
    ramp = QgsGradientColorRamp(colors[0], colors[-1], False, stops)
    span = max(1, len(years) - 1)
    shader.setColorRampItemList([QgsColorRampShader.ColorRampItem(y, ramp.color(i / span), str(y))
                                 for i, y in enumerate(years)])
    shader.setMinimumValue(years[0])
    shader.setMaximumValue(years[-1])
    layer.renderer().setClassificationMin(years[0])
    layer.renderer().setClassificationMax(years[-1])


def _move_to_group(project: QgsProject, layer, name: str) -> None:
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None:
        return
    group = root.findGroup(name) or root.insertGroup(0, name)
    if node.parent() is not group:
        group.addChildNode(node.clone())
        node.parent().removeChildNode(node)


_POST_PROCESSORS: list[StyledLayer] = []


def load_on_completion(context: QgsProcessingContext, path: Path, name: str, qml: str | None,
                       group: str | None = None, years: Sequence[int] = (), vector: bool = False) -> None:
    """Ask the GUI to load ``path`` as layer ``name`` styled with ``styles/qml`` when the run completes,
    optionally inside layer-tree ``group`` and with the year ramp of ``years`` (see StyledLayer).
    ``vector``: load it as a vector (or table) layer, e.g. a CSV."""
    details = QgsProcessingContext.LayerDetails(name, context.project() or QgsProject.instance(), name)
    if vector:
        details.layerTypeHint = QgsProcessingUtils.LayerHint.Vector
    processor = StyledLayer(qml, group, years)
    # The context's C++ copy of the details owns and deletes the post-processor, but its Python
    # half dies with the temporary ``details`` wrapper unless referenced here until then.
    _POST_PROCESSORS[:] = [p for p in _POST_PROCESSORS if not sip.isdeleted(p)] + [processor]
    details.setPostProcessor(processor)
    context.addLayerToLoadOnCompletion(str(path), details)
