"""euromine models — the bundled models with their cards (the command only: QGIS lists them in
each algorithm's help)."""
from __future__ import annotations

from ..engine.bundled import bundled_models
from ..engine.model_cards import model_cards, one_line, tolerant_text
from ..executor import Executor
from ..progress import Reporter
from .spec import CLI, AlgorithmSpec, Outcome, Values


def run(_values: Values, _reporter: Reporter, _executor: Executor) -> Outcome:
    """Every bundled model's card (MODELS) and its lines."""
    cards = model_cards(bundled_models())
    lines = []
    for card in cards:
        lines += [f"{card['name']}: {card['display_name']} ({card['task']})", f"  trained on: {card['trained_on']}"]
        if card["receptive_field"] is not None:
            lines.append(f"  receptive field (TILE_OVERLAP=exact): {card['receptive_field']} px, "
                         f"alignment {card['alignment']} px")
        lines.append(f"  tolerant receptive field (default tiling): {tolerant_text(card)}")
        lines += [f"  {name}: {one_line(value)}" for name, value in card["metrics"].items()]
    return Outcome({"MODELS": cards}, lines, cards)


SPEC = AlgorithmSpec(
    id="models",
    title="Bundled models",
    group="Models",
    group_id="models",
    summary="the bundled models with their cards",
    description="<p>Lists the bundled models with their cards: task, what each was trained on (labelled where the "
                "weights learned synthetic sites), its held-out metrics and its receptive field.</p>",
    params=(),
    results="MODELS: one card per model (name, display_name, task, file, sha256, trained_on, synthetic_training, "
            "architecture, license, version, receptive_field, alignment, metrics, variants).",
    example="euromine models --json",
    run=run,
    surfaces=frozenset({CLI}),
)
