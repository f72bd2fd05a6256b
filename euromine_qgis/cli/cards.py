"""The bundled models' cards for ``euromine models``: what each does, what it was trained on (with
the synthetic-training label), its held-out metrics and its receptive field, from models.json."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.engine.model_registry import SYNTHETIC_LABEL, ModelEntry


def model_cards(models: Sequence[ModelEntry]) -> list[dict[str, Any]]:
    """One card per bundled model: name, display name, task, file, sha256, trained_on (labelled
    where the weights were trained on synthetic sites), architecture, license, version, the
    receptive field and alignment recorded at export (None where not recorded), the metrics and the
    reduced-precision siblings (PRECISION) with their own sha256, agreement and metrics."""
    cards = []
    for model in models:
        trained_on = model.trained_on
        if model.synthetic_training and SYNTHETIC_LABEL not in trained_on:
            trained_on = f"{trained_on} — {SYNTHETIC_LABEL}"
        field = model.provenance.receptive_field
        cards.append({
            "name": model.name, "display_name": model.display_name, "task": model.task,
            "file": str(model.file), "sha256": model.sha256, "trained_on": trained_on,
            "synthetic_training": model.synthetic_training, "architecture": model.architecture,
            "license": model.license, "version": model.version,
            "receptive_field": None if field is None else field.receptive_field,
            "alignment": None if field is None else field.alignment,
            "metrics": model.metrics, "variants": {p: v.record for p, v in model.variants.items()},
        })
    return cards
