"""What every EuroMine algorithm shares: model parameters, feedback and error translation."""
from __future__ import annotations

from pathlib import Path

from qgis.PyQt import sip
from qgis.core import (
    Qgis,
    QgsMessageLog,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterString,
    QgsProject,
)

from ..core.devices import DEVICES
from ..core.model import Model, NormalizationOverride
from ..core.progress import Reporter
from ..core.registry import bundled_models, resolve_bundled
from ..core.errors import EuroMineError, ModelError

STYLES = Path(__file__).resolve().parent.parent / "styles"


def reporter_for(feedback: QgsProcessingFeedback) -> Reporter:
    """Route engine progress, log lines and cancellation through a Processing feedback."""
    return Reporter(progress=feedback.setProgress, info=feedback.pushInfo, is_canceled=feedback.isCanceled)


def processing_error(exc: EuroMineError) -> QgsProcessingException:
    """The engine's typed error as the exception Processing shows to the user."""
    return QgsProcessingException(str(exc))


def model_parameters(task: str) -> list[QgsProcessingParameterDefinition]:
    """MODEL, MODEL_FILE, DEVICE and the normalization overrides (BANDS, MEAN, STD)."""
    try:
        names = [m.name for m in bundled_models(task=task)]
    except ModelError as exc:  # a damaged install: own model files (MODEL_FILE) still work
        QgsMessageLog.logMessage(str(exc), "EuroMine", Qgis.Warning)
        names = []
    model = QgsProcessingParameterEnum(
        "MODEL", "Bundled model", options=names, defaultValue=names[0] if names else None,
        optional=True, usesStaticStrings=True,
    )
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


def load_model(alg, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Model:
    """The model chosen by MODEL_FILE (if given) or MODEL, on DEVICE, with any overrides."""
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
    if model.info.synthetic:
        feedback.reportError(
            f"Model '{model.info.name}' was trained on synthetic sites — retrain on EuroMineNet "
            "for real analysis.", fatalError=False,
        )
    return model


class StyledLayer(QgsProcessingLayerPostProcessorInterface):
    """Applies a QML style to an output layer loaded on completion."""

    def __init__(self, qml: str) -> None:
        super().__init__()
        self.qml = str(STYLES / qml)

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 (QGIS API)
        if layer is not None and layer.isValid():
            layer.loadNamedStyle(self.qml)
            layer.triggerRepaint()


_POST_PROCESSORS: list[StyledLayer] = []


def load_on_completion(context: QgsProcessingContext, path: Path, name: str, qml: str) -> None:
    """Ask the GUI to load ``path`` as layer ``name`` styled with ``styles/qml`` when the run completes."""
    details = QgsProcessingContext.LayerDetails(name, context.project() or QgsProject.instance(), name)
    processor = StyledLayer(qml)
    # The context's C++ copy of the details owns and deletes the post-processor, but its Python
    # half dies with the temporary ``details`` wrapper unless referenced here until then.
    _POST_PROCESSORS[:] = [p for p in _POST_PROCESSORS if not sip.isdeleted(p)] + [processor]
    details.setPostProcessor(processor)
    context.addLayerToLoadOnCompletion(str(path), details)
