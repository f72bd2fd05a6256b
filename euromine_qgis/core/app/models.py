"""The model a run opens, from its parameters (MODEL or MODEL_FILE, DEVICE, PRECISION, BANDS/MEAN/STD,
SCALE), with the log lines that say what runs it; and what a run feeds it (INPUT_BANDS, SCALE,
the tiling)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.bundled import SYNTHETIC_LABEL, bundled_models, resolve_bundled
from ..engine.contract import NormalizationOverride
from ..engine.inference import TileSettings
from ..engine.overrides import parse_override
from ..engine.scaling import ImageInput
from ..errors import InputError, ModelError
from ..io.bands import parse_input_bands
from ..progress import Reporter
from .params import BANDS, BATCH_SIZE, DEVICE, INPUT_BANDS, MEAN, MODEL, MODEL_FILE, PRECISION, SCALE, STD, TILE_OVERLAP
from .spec import Param, Values

if TYPE_CHECKING:
    from ..engine.model import Model


@dataclass(frozen=True)
class ModelChoice:
    """The two parameters that choose one model (a bundled one by name, or a file that overrides
    it), what the log calls that model, and whether BANDS/MEAN/STD apply to it."""

    bundled: Param
    file: Param
    role: str
    overrides: bool


FOOTPRINT_MODEL = ModelChoice(MODEL, MODEL_FILE, "Model", overrides=True)


@dataclass(frozen=True)
class ModelRequest:
    """Which model to open and how: plain values, so that another process can open the same model."""

    path: Path
    role: str  # "Model" or "Change model", as the log names it
    device: str
    override: NormalizationOverride | None
    scale: float
    precision: str

    def load(self, reporter: Reporter) -> Model:
        """The model on its device at its precision; the log says which execution provider and device
        run it, which precision and why, and a model trained on synthetic sites is a warning."""
        from ..engine.model import Model

        model = Model(self.path, device=self.device, override=self.override, scale=self.scale,
                      precision=self.precision)
        reporter.info(f"Execution provider: {model.provider} on {model.device_name} ({model.info.name})")
        reporter.info(f"Precision: {model.precision} ({model.path.name}; {model.precision_reason})")
        if model.info.synthetic:
            reporter.warn(f"{self.role} '{model.info.name}' was {SYNTHETIC_LABEL}.")
        return model


def bundled_names(tasks: tuple[str, ...]) -> list[str]:
    """The bundled models of ``tasks``, by name (none from a damaged install: a model file still works)."""
    try:
        return [m.name for m in bundled_models() if m.task in tasks]
    except ModelError:
        return []


def model_default(param: Param) -> str | None:
    """The bundled model a MODEL parameter starts on: its default where it is bundled, else the
    first bundled model of its tasks."""
    names = bundled_names(param.choices)
    return param.default if param.default in names else (names[0] if names else None)


def model_request(values: Values, choice: ModelChoice = FOOTPRINT_MODEL) -> ModelRequest:
    """The model ``choice`` names in ``values``, with DEVICE, PRECISION, SCALE (and BANDS/MEAN/STD where
    they apply)."""
    path = values.get(choice.file.name)
    if not path:
        name = values.get(choice.bundled.name)
        if not name:
            raise ModelError(f"choose a bundled {choice.bundled.name} or give a {choice.file.name}")
        path = resolve_bundled(name)
    override = parse_override(values[BANDS.name], values[MEAN.name], values[STD.name]) if choice.overrides else None
    return ModelRequest(Path(path), choice.role, values[DEVICE.name], override, values[SCALE.name],
                        values[PRECISION.name])


def image_input(values: Values) -> ImageInput:
    """INPUT_BANDS and SCALE as the engine takes them."""
    return ImageInput(bands=parse_input_bands(values[INPUT_BANDS.name]), scale=values[SCALE.name])


# TILE_OVERLAP's words; any other value is a whole number of pixels
AUTO_OVERLAP, EXACT_OVERLAP = "auto", "exact"


def tile_settings(values: Values) -> TileSettings:
    """The engine's tiling from TILE_OVERLAP (auto, exact or pixels) and BATCH_SIZE."""
    text = str(values[TILE_OVERLAP.name]).strip().lower()
    if text in ("", AUTO_OVERLAP, EXACT_OVERLAP):
        return TileSettings(exact=text == EXACT_OVERLAP, batch_size=values[BATCH_SIZE.name])
    try:
        overlap = int(text)
    except ValueError:
        overlap = -1
    if overlap < 0:
        raise InputError(f"TILE_OVERLAP: expected {AUTO_OVERLAP}, {EXACT_OVERLAP} or a whole number of pixels >= 0, "
                         f"got '{values[TILE_OVERLAP.name]}'")
    return TileSettings(overlap=overlap, batch_size=values[BATCH_SIZE.name])
