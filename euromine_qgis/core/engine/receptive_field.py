"""Measure how far a model looks: its effective receptive field and its alignment.

Tiled inference equals whole-scene inference when every output pixel kept from a tile lies far
enough from the tile's cut edges that the missing context no longer changes it, and when every
tile starts on the model's pooling grid. Both are measured here, on the model as it runs, once
at export time (export/onnx.py records them in the model's metadata):

* **alignment**: the smallest shift of the input, in pixels, that shifts the output by the same
  amount (1 for a model without downsampling, 2^levels for a U-Net-like one), or the side multiple
  the model needs to run at all, whichever is larger (deep levels of a freshly initialised model
  can weigh too little to show in the shift);
* **receptive field**: the smallest distance from a tile's cut edges beyond which the tile's
  output equals the output of a run on a larger scene to ``tolerance`` in probability.

Theoretical receptive fields of deep encoders run to hundreds of pixels and say nothing about
where the influence actually becomes negligible, so both are measured empirically (the idea of
Luo et al. 2016, "Understanding the Effective Receptive Field in Deep Convolutional Neural
Networks"): by cutting tiles out of seeded random scenes in normalized units: white noise, smoothed
noise and piecewise-constant blocks (fields, pits and nodata holes: large uniform areas with sharp
edges carry context furthest). No library measures this for an ONNX
model, hence the hand-written code.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError, OutOfMemory
from .contract import RECEPTIVE_FIELD_TOLERANCE

if TYPE_CHECKING:
    from .inference import TileModel

# Scene sides tried in turn: a model whose influence is not negligible at the centre of a tile of
# half the scene is measured again on the next, larger scene.
SCENE_SIDES = (512, 1024, 2048)
ALIGNMENTS = (1, 2, 4, 8, 16, 32, 64)
SMOOTHING_RADIUS = 4
BLOCK = 32  # side of the uniform blocks, in pixels
BLOCK_STD = 1.5
DATE_NOISE = 0.1  # per-image noise on a landscape the images share, in normalized units
CHANGED_BLOCKS = 0.25  # share of blocks that change from one image to the next
SEED = 0


@dataclass(frozen=True)
class ReceptiveField:
    """What the measurement found: ``radius`` is None when the model's output depends on context
    beyond the largest scene tried (global pooling or attention), ``alignment`` likewise."""

    radius: int | None
    alignment: int | None
    tolerance: float
    scene: int  # side of the largest scene measured on

    @property
    def bounded(self) -> bool:
        return self.radius is not None and self.alignment is not None


def _box_blur(x: NDArray[np.float32], radius: int) -> NDArray[np.float32]:
    """Mean over (2 radius + 1)² windows of the last two axes, reflect-padded."""
    blurred: NDArray[np.floating[Any]] = x
    for axis in (-2, -1):
        pad = [(0, 0)] * blurred.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(blurred, pad, mode="reflect"), axis=axis, dtype=np.float64)
        n = blurred.shape[axis]
        blurred = (np.take(c, range(2 * radius + 1, n + 2 * radius + 1), axis=axis)
                   - np.take(c, range(0, n), axis=axis)) / (2 * radius + 1)
    return blurred.astype(np.float32)


def scenes(channels: int, side: int, seed: int = SEED, images: int = 1) -> list[NDArray[np.float32]]:
    """The measurement inputs, normalized (1, channels, side, side) float32: white noise and smoothed
    noise with unit variance, and BLOCK-px blocks of uniform values (standard deviation BLOCK_STD).

    With several ``images`` per sample (change and series models) each scene also comes with every
    image showing one landscape, perturbed by DATE_NOISE and with a quarter of its blocks changed
    from one image to the next: mostly unchanged dates are what such models see, and there their
    output is far from saturated, so distant context still moves it. Independent dates alone
    look like change everywhere, saturate a change model and understate its field."""
    rng = np.random.default_rng(seed)

    def draw(c: int) -> list[NDArray[np.float32]]:
        noise = rng.standard_normal((1, c, side, side), dtype=np.float32)
        smooth = _box_blur(rng.standard_normal((1, c, side, side), dtype=np.float32), SMOOTHING_RADIUS)
        cells = rng.normal(0.0, BLOCK_STD, (1, c, side // BLOCK, side // BLOCK)).astype(np.float32)
        return [noise, smooth / smooth.std(), np.repeat(np.repeat(cells, BLOCK, axis=2), BLOCK, axis=3)]

    independent = draw(channels)
    if images == 1:
        return independent
    bands = channels // images
    shared = []
    for base, other in zip(draw(bands), draw(bands), strict=True):
        dates = [base]
        for _ in range(images - 1):
            cells = rng.random((side // BLOCK, side // BLOCK)) < CHANGED_BLOCKS
            changed = np.repeat(np.repeat(cells, BLOCK, 0), BLOCK, 1)
            dates.append(np.where(changed, other, dates[-1]))
        noise = rng.standard_normal((1, channels, side, side), dtype=np.float32)
        shared.append((np.concatenate(dates, axis=1) + DATE_NOISE * noise).astype(np.float32))
    return independent + shared


def _maps(model: TileModel, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """(maps, H, W) probabilities of one normalized sample."""
    p: NDArray[np.float32] = model.positive_probability(np.ascontiguousarray(x))[0]
    return p if p.ndim == 3 else p[None]


def _alignment(model: TileModel, x: NDArray[np.float32], whole: NDArray[np.float32], tolerance: float) -> int | None:
    """The smallest shift in ALIGNMENTS under which the centre of the output shifts with the input."""
    side = x.shape[-1]
    crop, centre = side - ALIGNMENTS[-1], slice(side // 2 - 16, side // 2 + 16)
    for shift in ALIGNMENTS:
        shifted = _maps(model, x[..., shift:shift + crop, shift:shift + crop])
        moved = shifted[:, centre.start - shift:centre.stop - shift, centre.start - shift:centre.stop - shift]
        if np.max(np.abs(moved - whole[:, centre, centre])) <= tolerance:
            return shift
    return None


def _size_multiple(model: TileModel, channels: int) -> int | None:
    """The smallest side multiple in ALIGNMENTS the model runs on (an odd number of them, so a
    larger power of two does not divide it) and returns a map of the same size; None: none. A
    model that cannot run a side raises ModelError (the TileModel protocol): e.g. a U-Net whose
    pooled levels no longer line up with its skip connections."""
    for multiple in ALIGNMENTS:
        h, w = multiple * 9, multiple * 11
        try:
            out = _maps(model, np.zeros((1, channels, h, w), np.float32))
        except OutOfMemory:
            raise  # the device, not the side: a larger side would not run either
        except ModelError:
            continue
        if out.shape[-2:] == (h, w):
            return multiple
    return None


def _radius(model: TileModel, x: NDArray[np.float32], whole: NDArray[np.float32], tolerance: float) -> int | None:
    """Cut the middle half of the scene as a tile and find how far from its edges it still differs."""
    side = x.shape[-1]
    start, tile = side // 4, side // 2
    cut = _maps(model, x[..., start:start + tile, start:start + tile])
    error = np.max(np.abs(cut - whole[:, start:start + tile, start:start + tile]), axis=0)
    edge = np.minimum.outer(np.minimum(np.arange(tile), np.arange(tile)[::-1]),
                            np.minimum(np.arange(tile), np.arange(tile)[::-1]))
    wrong = edge[error > tolerance]
    if wrong.size == 0:
        return 0
    radius = int(wrong.max()) + 1
    return radius if radius < tile // 2 - 8 else None  # still wrong near the tile's centre


def measure(model: TileModel, tolerance: float = RECEPTIVE_FIELD_TOLERANCE, images: int = 3,
            more_scenes: Callable[[int, int], list[NDArray[np.float32]]] | None = None) -> ReceptiveField:
    """Measure ``model``'s (a core TileModel: ``info`` and ``positive_probability``) alignment and
    effective receptive field, the largest over the measurement scenes, growing the scene while the
    influence is not negligible at the centre. A series model is given ``images`` years.
    ``more_scenes(side, images)`` adds normalized (1, C·images, side, side) scenes to the random
    ones, e.g. rendered sites (export.field_scenes): random scenes need not move a trained model
    as far as the landscapes it learned from do."""
    per_sample = model.info.images_per_sample or images
    channels = len(model.info.bands) * per_sample
    size_multiple = _size_multiple(model, channels)
    if size_multiple is None:
        return ReceptiveField(None, None, tolerance, SCENE_SIDES[-1])
    for side in SCENE_SIDES:
        radii: list[int] = []
        alignments: list[int] = []
        for x in _scenes_at(side, channels, per_sample, more_scenes):
            whole = _maps(model, x)
            radius = _radius(model, x, whole, tolerance)
            alignment = None if radius is None else _alignment(model, x, whole, tolerance)
            if radius is None or alignment is None:
                break  # not settled at this side: the next, larger side is measured from scratch
            radii.append(radius)
            alignments.append(alignment)
        else:
            return ReceptiveField(max(radii), max(*alignments, size_multiple), tolerance, side)
    return ReceptiveField(None, None, tolerance, side)


def _scenes_at(side: int, channels: int, images: int,
               more_scenes: Callable[[int, int], list[NDArray[np.float32]]] | None) -> Iterator[NDArray[np.float32]]:
    """The measurement scenes of one side, the added ones made only when the random ones settle."""
    yield from scenes(channels, side, images=images)
    if more_scenes is not None:
        yield from more_scenes(side, images)
