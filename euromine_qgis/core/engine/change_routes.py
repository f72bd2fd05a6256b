"""The change routes measured on held-out sites, as models.json records them, and the METHOD of
``euromine:detectchange`` they favour for each interval class.

``python -m export.zoo routes`` measures every route (post-classification with each bundled
footprint model, each bundled change model, the series model's maps of the two years) on two
held-out test sets and stores the record under ``change_routes`` in each change model's entry:

    {"command": "...", "test_sets": {"in_distribution": "...", "domain_shift": "..."},
     "routes": {"post_classification:unet_footprint": {"domain_shift": {"f1_annual": 0.61, ...}, ...}}}

with ``f1_`` and ``iou_`` of every interval class (annual Δ = 1, medium 2–4, long ≥ 5) and of
all pairs ("all"); None where a score is undefined.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..scoring.metrics import INTERVAL_CLASSES
from .bundled import MODELS_DIR
from .model_registry import index_path, read_models

INTERVALS = (*INTERVAL_CLASSES, "all")
TEST_SETS = ("in_distribution", "domain_shift")
DECIDING_SET = "domain_shift"  # the favoured METHOD is the one that holds up on sites unlike the training's
# how each model task makes a change map; the series route is not a METHOD of detectchange
ROUTE_KINDS = {"footprint": "post_classification", "change": "change_model", "footprint_series": "series_maps"}
METHOD_KINDS = ("post_classification", "change_model")
INTERVAL_NAMES = {"annual": "annual (Δ = 1)", "medium": "medium (Δ = 2–4)", "long": "long (Δ ≥ 5)",
                  "all": "all pairs"}


def route_name(task: str, model: str) -> str:
    """The route of a model of ``task``, e.g. ``post_classification:unet_footprint``."""
    return f"{ROUTE_KINDS[task]}:{model}"


def recorded_routes(models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """The ``change_routes`` record of the first change model in models.json that holds one."""
    for entry in read_models(models_dir):
        if entry.task == "change" and entry.change_routes is not None:
            return entry.change_routes
    raise ModelError(f"{index_path(models_dir)}: no change model holds measured change routes "
                     "(python -m export.zoo routes)")


def ranking(record: dict[str, Any], interval: str = "all", test_set: str = DECIDING_SET) -> list[tuple[str, float]]:
    """Every route with a defined change F1 on ``test_set`` for ``interval``, best first."""
    scores = [(route, sets[test_set][f"f1_{interval}"]) for route, sets in record["routes"].items()]
    return sorted(((r, f1) for r, f1 in scores if f1 is not None), key=lambda item: (-item[1], item[0]))


def favoured_methods(record: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """Per interval (INTERVALS): the route of a detectchange METHOD with the best change F1 on the
    domain-shift sites, and that F1."""
    favoured = {}
    for interval in INTERVALS:
        methods = [item for item in ranking(record, interval) if item[0].split(":")[0] in METHOD_KINDS]
        if methods:
            favoured[interval] = methods[0]
    return favoured


def recommendation_html(models_dir: Path = MODELS_DIR) -> str:
    """The METHOD the recorded measurements favour per interval class, as HTML list items."""
    try:
        record = recorded_routes(models_dir)
    except ModelError as exc:
        return f"<li>{exc}</li>"
    items = []
    for interval, (route, f1) in favoured_methods(record).items():
        method, model = route.split(":")
        others = ", ".join(f"{r.replace(':', ' with ')} {v:.3f}" for r, v in ranking(record, interval) if r != route)
        inside = record["routes"][route]["in_distribution"][f"f1_{interval}"]
        inside_text = "undefined" if inside is None else f"{inside:.3f}"
        items.append(f"<li>{INTERVAL_NAMES[interval]}: <code>{method}</code> with <b>{model}</b>, change F1 "
                     f"{f1:.3f} on the domain-shift sites ({inside_text} in distribution); the others: {others}</li>")
    return "".join(items)
