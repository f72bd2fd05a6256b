"""The bundled models' cards for ``euromine models``: what each does, what it was trained on (with
the synthetic-training label), its held-out metrics and its receptive field, from models.json."""
from __future__ import annotations

import json
from collections.abc import Sequence

from ..core.engine.bundled import SYNTHETIC_LABEL, BundledModel
from ..core.errors import ModelError


def _card_entries(models: Sequence[BundledModel]) -> dict[str, dict]:
    """models.json's entries of ``models`` by name (bundled_models has already read the list)."""
    index = {m.file.parent / "models.json" for m in models}
    entries: dict[str, dict] = {}
    for path in index:
        try:
            entries.update((e["name"], e) for e in json.loads(path.read_text(encoding="utf-8"))["models"])
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{path}: cannot read the bundled model list ({exc})") from exc
    return entries


def model_cards(models: Sequence[BundledModel]) -> list[dict]:
    """One card per bundled model: name, display name, task, file, sha256, trained_on (labelled
    where the weights were trained on synthetic sites), architecture, license, version, the
    receptive field and alignment recorded at export (None where not recorded), the metrics and the
    reduced-precision siblings (PRECISION) with their own sha256, agreement and metrics."""
    entries = _card_entries(models)
    cards = []
    for model in models:
        entry = entries[model.name]
        trained_on = entry.get("trained_on", "unknown")
        if model.synthetic_training and SYNTHETIC_LABEL not in trained_on:
            trained_on = f"{trained_on} — {SYNTHETIC_LABEL}"
        field = entry.get("provenance", {}).get("receptive_field") or {}
        cards.append({
            "name": model.name, "display_name": model.display_name, "task": model.task,
            "file": str(model.file), "sha256": model.sha256, "trained_on": trained_on,
            "synthetic_training": model.synthetic_training, "architecture": entry.get("architecture"),
            "license": entry.get("license"), "version": entry.get("version"),
            "receptive_field": field.get("receptive_field"), "alignment": field.get("alignment"),
            "metrics": entry.get("metrics", {}), "variants": entry.get("variants", {}),
        })
    return cards
