"""The models bundled with the plugin, as listed in models_onnx/models.json (model_registry)."""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..io.checksum import sha256_of
from .model_registry import SYNTHETIC_LABEL, ModelEntry, read_models

__all__ = ["MODELS_DIR", "SYNTHETIC_LABEL", "bundled_models", "resolve_bundled"]

# The plugin folder carries models_onnx/ (a link to the repository's folder in a checkout, a
# real folder in the installed zip).
MODELS_DIR = Path(__file__).resolve().parents[2] / "models_onnx"


def bundled_models(models_dir: Path = MODELS_DIR, task: str | None = None) -> list[ModelEntry]:
    """Every bundled model (of one task, if given), in the order of models.json."""
    return [m for m in read_models(models_dir) if task is None or m.task == task]


def resolve_bundled(name: str, models_dir: Path = MODELS_DIR) -> Path:
    """Path of the bundled model ``name`` after checking its sha256 against models.json.

    A file that no longer matches its recorded checksum is refused: results must come from the
    weights the model card describes.
    """
    models = bundled_models(models_dir)
    for model in models:
        if model.name == name:
            if not model.file.is_file():
                raise ModelError(f"{model.file}: bundled model '{name}' is missing from the plugin")
            actual = sha256_of(model.file)
            if actual != model.sha256:
                raise ModelError(
                    f"{model.file}: sha256 {actual} does not match models.json ({model.sha256}); "
                    "the bundled model was modified or damaged — reinstall the plugin"
                )
            return model.file
    known = ", ".join(m.name for m in models)
    raise ModelError(f"no bundled model named '{name}' (bundled: {known})")
