"""The bundled models' cards, from models.json (model_registry): one record per model for
``euromine models`` (its ``--json``), and the Markdown pages of the docs site (the cards and the
measured change routes), so that every surface shows the same facts from the one file.

A model trained on synthetic sites carries SYNTHETIC_LABEL on every card.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .change_routes import INTERVAL_NAMES, INTERVALS, TEST_SETS, favoured_methods, ranking
from .model_registry import SYNTHETIC_LABEL, ModelEntry

TEST_SET_NAMES = {"in_distribution": "in distribution", "domain_shift": "domain shift"}


def labelled_training(model: ModelEntry) -> str:
    """What ``model`` was trained on, with SYNTHETIC_LABEL where its weights learned synthetic sites."""
    if model.synthetic_training and SYNTHETIC_LABEL not in model.trained_on:
        return f"{model.trained_on} — {SYNTHETIC_LABEL}"
    return model.trained_on


def model_card(model: ModelEntry) -> dict[str, Any]:
    """One model's card: name, display name, task, file, sha256, trained_on (labelled where the
    weights were trained on synthetic sites), architecture, license, version, the receptive field
    and alignment recorded at export (None where not recorded), the metrics and the
    reduced-precision siblings (PRECISION) with their own sha256, agreement and metrics."""
    field = model.provenance.receptive_field
    return {
        "name": model.name, "display_name": model.display_name, "task": model.task,
        "file": str(model.file), "sha256": model.sha256, "trained_on": labelled_training(model),
        "synthetic_training": model.synthetic_training, "architecture": model.architecture,
        "license": model.license, "version": model.version,
        "receptive_field": None if field is None else field.receptive_field,
        "alignment": None if field is None else field.alignment,
        "tolerant_receptive_field": None if field is None else field.tolerant_receptive_field,
        "tolerant_tolerance": None if field is None else field.tolerant_tolerance,
        "tolerant_check": None if field is None else field.tolerant_check,
        "metrics": model.metrics, "variants": {p: v.record for p, v in model.variants.items()},
    }


def model_cards(models: Sequence[ModelEntry]) -> list[dict[str, Any]]:
    """The card of every model, in the given order."""
    return [model_card(model) for model in models]


def _cell(value: Any) -> str:
    """A value as one Markdown table cell (``|`` escaped, undefined as n/a)."""
    if value is None:
        return "n/a"
    return str(value).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def one_line(value: Any) -> str:
    """A record's value on one line: a group as ``name value, ...``, anything else as it is."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metrics_markdown(metrics: Mapping[str, Any]) -> list[str]:
    """A metrics record as Markdown: groups of scores (``micro``, ``macro``) side by side, single
    scores in a table of their own, texts (the held-out sites, the command) as lines."""
    groups = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
    scores = {k: v for k, v in metrics.items() if _is_number(v)}
    texts = {k: v for k, v in metrics.items() if isinstance(v, str)}
    lines: list[str] = []
    if groups:
        names = list(dict.fromkeys(name for group in groups.values() for name in group))
        lines += [*_table(["metric", *groups], [[f"`{n}`", *(g.get(n) for g in groups.values())] for n in names]), ""]
    if scores:
        lines += [*_table(["metric", "value"], [[f"`{k}`", v] for k, v in scores.items()]), ""]
    lines += [f"- {key}: `{value}`" if key == "command" else f"- {key}: {value}" for key, value in texts.items()]
    return lines


def tolerant_text(card: Mapping[str, Any]) -> str:
    """The tolerant field of a card and what tiling at it did on held-out sites, in words."""
    if card["tolerant_receptive_field"] is None:
        return "not recorded: the default tiling follows the exact field"
    text = f"{card['tolerant_receptive_field']} px at a probability tolerance of {card['tolerant_tolerance']:g}"
    check = card["tolerant_check"]
    if check:
        text += (f"; with the overlap it sets (2 × the field + 1) in tiles of half a site's side, on "
                 f"{check['sites']}, probabilities differed from whole-scene inference by at most "
                 f"{check['max_difference']:g} and "
                 f"{check['pixels_changed_class']:,} of {check['pixels']:,} pixels changed class at THRESHOLD "
                 f"{check['threshold']:g}")
    return text


def card_markdown(model: ModelEntry) -> str:
    """One model's card as a Markdown section (a level-2 heading with the model's name)."""
    card = model_card(model)
    lines = [f"## {model.display_name} (`{model.name}`)", ""]
    if model.synthetic_training:
        lines += [f"> **Warning: {SYNTHETIC_LABEL}.**", ""]
    lines += [model.description, ""]
    field = ("not recorded" if card["receptive_field"] is None
             else f"{card['receptive_field']} px, alignment {card['alignment']} px")
    tolerant = tolerant_text(card)
    made = model.provenance
    lines += _table(["", ""], [
        ["task", f"`{model.task}`"], ["architecture", model.architecture],
        ["trained on", card["trained_on"]], ["file", f"`{model.file.name}` ({model.size_bytes:,} bytes)"],
        ["sha256", f"`{model.sha256}`"], ["version", model.version], ["license", model.license],
        ["receptive field (TILE_OVERLAP=exact)", field], ["tolerant receptive field (default tiling)", tolerant],
        ["made by", f"`{made.command}`"], ["seed", made.seed],
        ["torch, ONNX opset, exporter", f"{made.torch}, {made.onnx_opset}, {made.exporter}"],
    ])
    lines += ["", "### Held-out metrics", "", *metrics_markdown(model.metrics), ""]
    for precision, variant in model.variants.items():
        record = variant.record
        lines += [f"### {precision} sibling (`PRECISION={precision}`)", "",
                  f"- file: `{variant.file.name}` ({variant.size_bytes:,} bytes), sha256 `{variant.sha256}`"]
        lines += [f"- {key.replace('_', ' ')}: {one_line(record[key])}"
                  for key in ("method", "argmax_agreement", "agreement_patches", "heldout_change") if key in record]
        if "command" in record:
            lines.append(f"- made by: `{record['command']}`")
        if isinstance(record.get("metrics"), Mapping):
            lines += ["", *metrics_markdown(record["metrics"])]
        lines.append("")
    return "\n".join(lines)


def cards_page(models: Sequence[ModelEntry]) -> str:
    """The docs site's page of every model's card."""
    trained = [m.name for m in models if m.synthetic_training]
    intro = ["# Model cards", "",
             "Generated from `models_onnx/models.json` when the site is built; `euromine models` prints the "
             "same cards.", ""]
    if trained:
        intro += [f"**{', '.join(f'`{n}`' for n in trained)}: {SYNTHETIC_LABEL}.**", ""]
    return "\n".join(intro + [card_markdown(m) for m in models])


def ranking_line(record: Mapping[str, Any], interval: str) -> str:
    """The routes ranked by change F1 on the domain-shift sites for ``interval``, on one line."""
    ranked = " > ".join(f"`{route}` {f1:.3f}" for route, f1 in ranking(dict(record), interval))
    name = INTERVAL_NAMES[interval]
    return f"{name[0].upper()}{name[1:]}: {ranked}"


def routes_page(record: Mapping[str, Any]) -> str:
    """The docs site's page of the measured change routes: every route's change F1 and IoU per
    interval class on both test sets, the ranking per interval, and the detectchange METHOD favoured."""
    header = ["route", "test sites", *(f"F1 {i}" for i in INTERVALS), *(f"IoU {i}" for i in INTERVALS)]
    rows = []
    for route, sets in record["routes"].items():
        for test_set in TEST_SETS:
            scores = sets[test_set]
            rows.append([f"`{route}`", TEST_SET_NAMES[test_set],
                         *(None if scores[f"{m}_{i}"] is None else f"{scores[f'{m}_{i}']:.3f}"
                           for m in ("f1", "iou") for i in INTERVALS)])
    favoured = favoured_methods(dict(record))
    lines = ["# Change routes", "",
             "Generated from the `change_routes` record of `models_onnx/models.json` when the site is built.", "",
             "Test sets:", ""]
    lines += [f"- {TEST_SET_NAMES[name]}: {sites}" for name, sites in record["test_sets"].items()]
    lines += ["", f"Measured by `{record['command']}`.", "", *_table(header, rows), "",
              "## Ranking by change F1 on the domain-shift sites", ""]
    lines += [f"- {ranking_line(record, interval)}" for interval in INTERVALS]
    lines += ["", "## The METHOD of `euromine:detectchange` these figures favour", ""]
    lines += [f"- {INTERVAL_NAMES[interval]}: `{route.split(':')[0]}` with `{route.split(':')[1]}` "
              f"(change F1 {f1:.3f} on the domain-shift sites)" for interval, (route, f1) in favoured.items()]
    return "\n".join(lines) + "\n"
