"""Measure a model's tolerant receptive field: the smallest margin at a tile's cut edges for which the
engine's default tiling stays within TOLERANT_FIELD_TOLERANCE of whole-scene inference.

The exact field (core.engine.receptive_field, to RECEPTIVE_FIELD_TOLERANCE) bounds the worst case
over random scenes, far below any difference that can change a mask, and its overlap costs about 1.8
model runs per output pixel. The tolerant field is measured where it matters: on generated
held-out sites (seeds no training, validation or test split uses), tiled as the engine tiles by
default with the candidate field (core.engine.inference.resolve_tiling: overlap 2 × the field + 1,
blending) but in tiles of half the site's side, so that every site has cut edges whatever the
candidate (the default tile of a wide field would cover a whole site), against the model run once
on the whole site. The smallest candidate, in steps of MARGIN_STEP px, whose largest
difference over every site stays within the tolerance is the field; the pixels whose class at
THRESHOLD then differs from whole-scene inference are counted with it. The candidates are searched
by bisection: a larger margin drops more of each tile's cut context, so the difference shrinks
with it (not strictly, hence the steps).
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.io import MemoryFile

from euromine_qgis.core.app.params import THRESHOLD
from euromine_qgis.core.engine.contract import RECEPTIVE_FIELD_TOLERANCE, TOLERANT_FIELD_TOLERANCE
from euromine_qgis.core.engine.inference import TileModel, TileSettings, predict_scene
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.tiling import align_up
from export.onnx import read_metadata, rewrite_metadata
from export.synthetic import IMAGE_NODATA, simulate_site

# Held-out generated sites: the zoo uses seeds 1000 (train), 2000 (val), 3000 (test), 5000 (shift).
SITE_SEEDS = (7001, 7002, 7003)
# Sides of the sites: large enough for several default tiles per axis; a series model sees three
# years at once, so its sites are smaller (whole-scene inference holds them in memory).
SIDE, SERIES_SIDE = 2048, 1024
SERIES_YEARS = (2016, 2019, 2023)
PAIR_YEARS = (2016, 2023)
MARGIN_STEP = 8


@dataclass(frozen=True)
class TolerantField:
    """The measured tolerant field (None: no margin up to the exact field stays within the
    tolerance) and what the default tiling at it does on the sites: the largest probability
    difference from whole-scene inference, and the pixels whose class at ``threshold`` changed,
    out of ``pixels`` valid ones."""

    radius: int | None
    tolerance: float
    max_difference: float
    changed_class: int
    pixels: int
    threshold: float
    sites: str

    def record(self) -> dict[str, object]:
        """The measurement as models.json keeps it (provenance.receptive_field)."""
        return {"tolerant_receptive_field": self.radius, "tolerant_tolerance": self.tolerance,
                "tolerant_check": {"sites": self.sites, "max_difference": float(f"{self.max_difference:.3g}"),
                                   "threshold": self.threshold, "pixels_changed_class": self.changed_class,
                                   "pixels": self.pixels}}


def _site_images(model: TileModel, seed: int) -> list[NDArray[np.uint16]]:
    if model.info.series:
        site = simulate_site(seed, size=(SERIES_SIDE, SERIES_SIDE), years=SERIES_YEARS)
        return [site.images[y] for y in SERIES_YEARS]
    years = PAIR_YEARS if model.info.images_per_sample == 2 else PAIR_YEARS[-1:]
    site = simulate_site(seed, size=(SIDE, SIDE), years=years)
    return [site.images[y] for y in years]


def _probabilities(model: TileModel, images: Sequence[NDArray[np.uint16]], settings: TileSettings
                   ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """The engine's (maps, H, W) probabilities and valid pixels of ``images``, held in memory files."""
    maps = len(images) if model.info.series else 1
    _, height, width = images[0].shape
    with ExitStack() as stack:
        srcs = []
        for image in images:
            memory = stack.enter_context(MemoryFile())
            with memory.open(driver="GTiff", width=width, height=height, count=image.shape[0], dtype=image.dtype,
                             nodata=IMAGE_NODATA, crs="EPSG:32633", tiled=True, blockxsize=256, blockysize=256,
                             transform=rasterio.transform.from_origin(500000, 5000000, 10, 10)) as dst:
                dst.write(image)
            srcs.append(stack.enter_context(memory.open()))
        probability, valid = predict_scene(model, srcs, settings)
    return probability.reshape(maps, height, width), valid.reshape(maps, height, width)


def _whole_scene(model: TileModel, images: Sequence[NDArray[np.uint16]]) -> NDArray[np.float32]:
    """The model run on each site as one tile (the scene padded to its alignment)."""
    side = align_up(max(images[0].shape[1:]), model.info.alignment)
    return _probabilities(model, images, TileSettings(tile=side, overlap=0, batch_size=1))[0]


def measure_tolerant(model: TileModel, tolerance: float = TOLERANT_FIELD_TOLERANCE,
                     seeds: Sequence[int] = SITE_SEEDS) -> TolerantField:
    """Measure ``model``'s tolerant field (its ``info.receptive_field``, the exact field, bounds the
    search) on the generated sites of ``seeds``, and what the default tiling at it does there."""
    info = model.info
    threshold = float(THRESHOLD.default)
    sites = [_site_images(model, seed) for seed in seeds]
    wholes = [_whole_scene(model, images) for images in sites]
    side = SERIES_SIDE if info.series else SIDE
    described = f"{len(seeds)} generated held-out sites of {side} x {side} px (export.synthetic, seeds " \
                f"{', '.join(map(str, seeds))})"

    def check(radius: int) -> tuple[float, int, int]:
        model.info = replace(info, tolerant_receptive_field=radius)
        try:
            worst, changed, pixels = 0.0, 0, 0
            for images, whole in zip(sites, wholes, strict=True):
                tiled, valid = _probabilities(model, images, TileSettings(tile=side // 2, batch_size=0))
                difference = np.abs(tiled - whole)[valid]
                worst = max(worst, float(difference.max(initial=0.0)))
                changed += int(((tiled > threshold) != (whole > threshold))[valid].sum())
                pixels += int(valid.sum())
            return worst, changed, pixels
        finally:
            model.info = info

    exact = info.receptive_field
    if exact is None:
        return TolerantField(None, tolerance, float("nan"), 0, 0, threshold, described)
    low, high = 0, -(-exact // MARGIN_STEP)  # in steps; the exact field passes by definition
    results: dict[int, tuple[float, int, int]] = {}
    while low < high:
        middle = (low + high) // 2
        results[middle] = check(middle * MARGIN_STEP)
        if results[middle][0] <= tolerance:
            high = middle
        else:
            low = middle + 1
    radius = min(low * MARGIN_STEP, exact)
    worst, changed, pixels = results.get(low) or check(radius)
    return TolerantField(radius, tolerance, worst, changed, pixels, threshold, described)


def record_tolerant_field(path: Path) -> TolerantField:
    """Measure the tolerant field of the model in ``path`` as onnxruntime runs it on the CPU and
    write it into its metadata, in place (export.onnx.rewrite_metadata)."""
    model = Model(path, device="cpu", precision="fp32", scale=1.0)
    field = measure_tolerant(model)
    rewrite_metadata(path, tolerant_receptive_field=field.radius)
    return field


def field_provenance(path: Path, command: str, tolerant: TolerantField) -> dict[str, object]:
    """models.json's provenance.receptive_field of a model file: both recorded fields, what they were
    measured to and on, and the command that measured them."""
    meta = read_metadata(path)
    return {"receptive_field": meta["receptive_field"], "alignment": meta["alignment"],
            "tolerance": RECEPTIVE_FIELD_TOLERANCE, **tolerant.record(), "command": command}
