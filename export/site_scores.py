"""Benchmark scores of a model over whole sites, mapped by the plugin's engine. One path for the
training-time validation of a checkpoint (``export.train``, through ``export.torch_model``) and
the held-out measurement of a bundled ONNX file (``export.zoo``), so a model card's numbers
are the plugin's numbers.

Every image goes through ``core.engine.inference.predict_scene`` as in ``euromine:mapfootprints``
(overlapping reflect-padded tiles blended with smooth weights, the valid-pixel rule of
``core.io.valid``), is thresholded at 0.5 and scored by ``core.scoring.metrics``
(docs/metrics.md); labels are read by the mask rule. Footprint and series models are scored on
every year of a site (pooled IoU/F1/P/R/OA, TIoU, CIoU, CA-TIoU); change models on every pair
of years a < b against |Y_b - Y_a|, per interval class and over all pairs. With a minimum
mapping unit (``min_area_ha``) each year's footprint is sieved as ``euromine:mapfootprints``
sieves it (``core.maps.min_area``) before scoring.

Measure the effect of the minimum mapping unit on held-out sites:
``python -m export.site_scores models_onnx/unet_footprint.onnx build/zoo/test --min-area-ha 0 0.1 0.5``
"""
from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from euromine_qgis.core.engine.inference import TileModel, TileSettings, engine_env, predict_scene
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.io.raster import footprint_values, inspect_image, open_raster
from euromine_qgis.core.maps.min_area import min_area_pixels, sieve_mask
from euromine_qgis.core.scoring.metrics import (
    Counts,
    SeriesCounts,
    aggregate_sites,
    confusion,
    interval_class,
    series_counts,
)
from export.data import TrainingSite, read_labels

THRESHOLD = 0.5
LAMBDA = 0.5
FOOTPRINT_KEYS = ("iou", "f1", "precision", "recall", "oa", "tiou", "ciou", "ca_tiou")


def map_scene(model: TileModel, images: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(probability, valid) of a whole scene from ``images`` (one, a (before, after) pair, or a
    series model's years): (H, W) arrays, or (T, H, W) from a series model."""
    with ExitStack() as stack:
        stack.enter_context(engine_env())
        srcs = [stack.enter_context(open_raster(path)) for path in images]
        return predict_scene(model, srcs, TileSettings(batch_size=0))


def sieved(mining: np.ndarray, valid: np.ndarray, image: Path, min_area_ha: float) -> np.ndarray:
    """``mining`` (H, W) without patches and holes under ``min_area_ha`` on the grid of ``image``."""
    pixels = min_area_pixels(inspect_image(image).grid, min_area_ha)
    return sieve_mask(footprint_values(mining, valid), pixels) == 1


def footprint_counts(model: TileModel, site: TrainingSite, min_area_ha: float = 0.0,
                     pairs: bool = False) -> SeriesCounts:
    """Counts of a footprint or series model over every year of ``site``, its footprints sieved
    to ``min_area_ha`` when above 0; with ``pairs`` also the change counts of every pair of years
    a < b of the maps (post-classification change)."""
    if model.info.series:
        probability, valid = map_scene(model, [site.image(y) for y in site.years])
    else:
        maps = [map_scene(model, [site.image(y)]) for y in site.years]
        probability, valid = np.stack([p for p, _ in maps]), np.stack([v for _, v in maps])
    labels, labelled = read_labels(site, probability.shape[-2:])
    mining = probability >= THRESHOLD
    if min_area_ha > 0:
        mining = np.stack([sieved(m, v, site.image(y), min_area_ha)
                           for m, v, y in zip(mining, valid, site.years, strict=True)])
    years = site.years
    return series_counts(mining, labels, valid & labelled, years, itertools.combinations(years, 2) if pairs else ())


def footprint_scores(model: TileModel, sites: Sequence[TrainingSite], min_area_ha: float = 0.0) -> dict[str, Any]:
    """Micro and macro benchmark scores of a footprint or series model over ``sites``
    (``core.scoring.metrics.aggregate_sites`` with lambda ``LAMBDA``), footprints sieved to
    ``min_area_ha`` when above 0."""
    return aggregate_sites({site.name: footprint_counts(model, site, min_area_ha) for site in sites}, LAMBDA)


def change_counts(model: TileModel, sites: Sequence[TrainingSite]) -> dict[str, Counts]:
    """Change counts of a change model over every pair of years a < b of ``sites``, pooled per
    interval class (annual, medium, long) and over all pairs ("all")."""
    pooled: dict[str, Counts] = {}
    for site in sites:
        pairs = list(itertools.combinations(site.years, 2))
        labels = labelled = None
        for a, b in pairs:
            probability, valid = map_scene(model, [site.image(a), site.image(b)])
            if labels is None:
                labels, labelled = read_labels(site, probability.shape)
            i, j = site.years.index(a), site.years.index(b)
            counts = confusion(probability >= THRESHOLD, labels[i] ^ labels[j], valid & labelled[i] & labelled[j])
            for key in (interval_class(a, b), "all"):
                pooled[key] = pooled.get(key, Counts()) + counts
    return pooled


def score_sites(model: TileModel, sites: Sequence[TrainingSite]) -> dict[str, Any]:
    """The scores of ``model`` over ``sites``: ``{"micro": {...}, "macro": {...}}`` with
    FOOTPRINT_KEYS for footprint and series models, ``change_{f1,iou}_{annual,medium,long,all}``
    for change models (None where a score is undefined)."""
    if model.info.task == "change":
        pooled = change_counts(model, sites)
        return {f"change_{m}_{key}": getattr(c, m) for key, c in pooled.items() for m in ("f1", "iou")}
    summary = footprint_scores(model, sites)
    return {"micro": {k: summary["micro"][k] for k in FOOTPRINT_KEYS},
            "macro": {k: summary["macro"][k]["value"] for k in FOOTPRINT_KEYS}}


def main(argv: Sequence[str] | None = None) -> None:
    """Print held-out CA-TIoU, TIoU and CIoU (micro and macro) of a footprint model for each minimum mapping unit."""
    from export.data import training_sites

    parser = argparse.ArgumentParser(prog="python -m export.site_scores", description=main.__doc__)
    parser.add_argument("model", type=Path, help="footprint or series .onnx model")
    parser.add_argument("test_data", type=Path, help="held-out sites in the EuroMineNet layout")
    parser.add_argument("--min-area-ha", type=float, nargs="+", default=[0.0], help="minimum mapping units (ha)")
    args = parser.parse_args(argv)
    model = Model(args.model, device="cpu", scale=1.0)
    if model.info.task == "change":
        parser.error(f"{args.model}: a footprint or series model is needed, this one's task is 'change'")
    sites = training_sites(args.test_data)
    print(f"{model.info.name} on {len(sites)} site(s) of {args.test_data}; micro (macro)")
    print("MIN_AREA_HA   CA-TIoU           TIoU              CIoU")
    for min_area_ha in args.min_area_ha:
        scores = footprint_scores(model, sites, min_area_ha)
        cells = [f"{scores['micro'][k]:.4f} ({scores['macro'][k]['value']:.4f})" for k in ("ca_tiou", "tiou", "ciou")]
        print(f"{min_area_ha:<13g} " + "   ".join(cells))


if __name__ == "__main__":
    main()
