"""Models in the algorithms: the parameters that choose one, the one path that loads it (log line,
GPU advice, synthetic-training warning), and the bundled-model list of the help texts.

The model code needs onnxruntime, so it is imported only where a model is loaded: without
onnxruntime an algorithm still loads and does what needs no model (see provider.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qgis.core import (
    Qgis,
    QgsMessageLog,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..core.engine.bundled import SYNTHETIC_LABEL, bundled_models, resolve_bundled
from ..core.engine.contract import FOOTPRINT_TASKS
from ..core.engine.overrides import parse_override
from ..core.engine.scaling import ImageInput
from ..core.errors import ModelError, first_line
from ..core.io.bands import parse_input_bands
from ..environment import GPU, MODELS, check_environment
from ..qgis_compat import NUMBER_DOUBLE
from .parameters import DEVICE, PRECISION, advanced, device_parameter, model_file_parameter, precision_parameter
from .translation import tr

if TYPE_CHECKING:
    from ..core.engine.model import Model

MODEL = "MODEL"
MODEL_FILE = "MODEL_FILE"
BANDS = "BANDS"
MEAN = "MEAN"
STD = "STD"
INPUT_BANDS = "INPUT_BANDS"
SCALE = "SCALE"

@dataclass(frozen=True)
class ModelChoice:
    """The two parameters that choose one model (a bundled one by name, or a file that overrides
    it), what the log calls that model, and whether BANDS/MEAN/STD apply to it."""

    bundled: str
    file: str
    role: str
    overrides: bool


FOOTPRINT_MODEL = ModelChoice(MODEL, MODEL_FILE, "Model", overrides=True)


def bundled_model_parameter(name: str, description: str, tasks: tuple[str, ...], default: str | None = None
                            ) -> QgsProcessingParameterEnum:
    """An optional enum of the bundled models of ``tasks`` (names as static strings)."""
    try:
        names = [m.name for m in bundled_models() if m.task in tasks]
    except ModelError as exc:  # a damaged install: own model files (MODEL_FILE) still work
        QgsMessageLog.logMessage(str(exc), "EuroMine", Qgis.MessageLevel.Warning)
        names = []
    if default not in names:
        default = names[0] if names else None
    return QgsProcessingParameterEnum(
        name, description, options=names, defaultValue=default, optional=True, usesStaticStrings=True,
    )


def model_parameters(tasks: tuple[str, ...] = FOOTPRINT_TASKS) -> list[QgsProcessingParameterDefinition]:
    """MODEL (bundled models of ``tasks``), MODEL_FILE, DEVICE, PRECISION, the normalization overrides
    (BANDS, MEAN, STD) and how the images feed the model (INPUT_BANDS, SCALE)."""
    return [
        bundled_model_parameter(MODEL, tr("Bundled model"), tasks, default="spectral_baseline"),
        model_file_parameter(MODEL_FILE, tr("Own ONNX model file (overrides MODEL)")),
        device_parameter(),
        precision_parameter(),
        advanced(QgsProcessingParameterString(
            BANDS, tr("Band names for a model without metadata (comma-separated)"), optional=True)),
        advanced(QgsProcessingParameterString(
            MEAN, tr("Per-band mean for normalization (comma-separated)"), optional=True)),
        advanced(QgsProcessingParameterString(
            STD, tr("Per-band std for normalization (comma-separated)"), optional=True)),
        advanced(QgsProcessingParameterString(
            INPUT_BANDS, tr("Image bands for the model's bands, in the model's order (numbers or names, "
                            "comma-separated; empty: by band name)"), optional=True)),
        advanced(QgsProcessingParameterNumber(
            SCALE, tr("Scale: multiply the image values by (10000 for 0-1 reflectance)"),
            NUMBER_DOUBLE, defaultValue=1.0, minValue=0.0)),
    ]


def read_image_input(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> ImageInput:
    """INPUT_BANDS and SCALE as the engine takes them."""
    return ImageInput(parse_input_bands(alg.parameterAsString(parameters, INPUT_BANDS, context)),
                      alg.parameterAsDouble(parameters, SCALE, context))


def model_help() -> str:
    """The bundled models, labelled, as the items of an HTML list."""
    try:
        return "".join(f"<li><b>{m.name}</b>: {m.label}</li>" for m in bundled_models())
    except ModelError as exc:
        return f"<li>{exc}</li>"


def _model_path(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext,
                choice: ModelChoice) -> Path:
    model_file = alg.parameterAsFile(parameters, choice.file, context)
    if model_file:
        return Path(model_file)
    name = alg.parameterAsEnumString(parameters, choice.bundled, context)
    if not name:
        raise QgsProcessingException(
            tr("choose a bundled {bundled} or give a {file}").format(bundled=choice.bundled, file=choice.file))
    return resolve_bundled(name)


def load_model(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext,
               feedback: QgsProcessingFeedback, choice: ModelChoice = FOOTPRINT_MODEL) -> Model:
    """The model ``choice`` names, on DEVICE at PRECISION (with BANDS/MEAN/STD where they apply, and SCALE).
    The log says which execution provider and device run it, which precision and why, and how to use
    an idle NVIDIA GPU; a model trained on synthetic sites is a warning."""
    try:
        from ..core.engine.model import Model
    except ImportError as exc:  # onnxruntime missing or broken: the environment check has the fix
        problem = next((p.message() for p in check_environment() if p.affects == MODELS), first_line(exc))
        raise QgsProcessingException(tr("{role} cannot run here: {problem}").format(
            role=tr(choice.role), problem=problem)) from exc
    override = None
    if choice.overrides:
        override = parse_override(*(alg.parameterAsString(parameters, name, context) for name in (BANDS, MEAN, STD)))
    path, device = _model_path(alg, parameters, context, choice), alg.parameterAsEnumString(parameters, DEVICE, context)
    model = Model(path, device=device, override=override, scale=read_image_input(alg, parameters, context).scale,
                  precision=alg.parameterAsEnumString(parameters, PRECISION, context) or "auto")
    feedback.pushInfo(tr("Execution provider: {provider} on {device} ({name})").format(
        provider=model.provider, device=model.device_name, name=model.info.name))
    feedback.pushInfo(tr("Precision: {precision} ({file}; {reason})").format(
        precision=model.precision, file=model.path.name, reason=model.precision_reason))
    for problem in check_environment():
        if problem.affects == GPU and model.provider == "CPUExecutionProvider":
            feedback.reportError(problem.message(), fatalError=False)
    if model.info.synthetic:  # a warning: orange in the dialog, WARNING in qgis_process, not a failure
        feedback.pushWarning(tr("{role} '{name}' was {label}.").format(
            role=tr(choice.role), name=model.info.name, label=SYNTHETIC_LABEL))
    return model

