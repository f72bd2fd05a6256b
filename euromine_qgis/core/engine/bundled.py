"""The models bundled with the plugin, as listed in models_onnx/models.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..io.checksum import sha256_of

# The plugin folder carries models_onnx/ (a link to the repository's folder in a checkout, a
# real folder in the installed zip).
MODELS_DIR = Path(__file__).resolve().parents[2] / "models_onnx"
SYNTHETIC_LABEL = "trained on synthetic sites — retrain on EuroMineNet for real analysis"


@dataclass(frozen=True)
class BundledModel:
    """One entry of models.json."""

    name: str
    display_name: str
    file: Path
    sha256: str
    task: str
    synthetic_training: bool

    @property
    def label(self) -> str:
        """What a user sees in a model list, with the synthetic-training warning where due."""
        text = f"{self.display_name} [{self.name}]"
        return f"{text} — {SYNTHETIC_LABEL}" if self.synthetic_training else text


def bundled_models(models_dir: Path = MODELS_DIR, task: str | None = None) -> list[BundledModel]:
    """Every bundled model (of one task, if given), in the order of models.json."""
    index = models_dir / "models.json"
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))["models"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{index}: cannot read the bundled model list ({exc})") from exc
    models = [
        BundledModel(
            name=e["name"],
            display_name=e.get("display_name", e["name"]),
            file=models_dir / e["file"],
            sha256=e["sha256"],
            task=e.get("task", "footprint"),
            synthetic_training=bool(e.get("synthetic_training", False)),
        )
        for e in entries
    ]
    return [m for m in models if task is None or m.task == task]


def resolve_bundled(name: str, models_dir: Path = MODELS_DIR) -> Path:
    """Path of the bundled model ``name`` after checking its sha256 against models.json.

    A file that no longer matches its recorded checksum is refused: results must come from the
    weights the model card describes.
    """
    for model in bundled_models(models_dir):
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
    known = ", ".join(m.name for m in bundled_models(models_dir))
    raise ModelError(f"no bundled model named '{name}' (bundled: {known})")
