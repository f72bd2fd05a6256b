"""Sliding-window inference of a footprint model over a raster of any size.

The scene is streamed in strips of one tile row: memory is bounded by tile height × scene
width (plus one batch), never by the scene's height. Tiles overlap and are blended with
raised-cosine weights so no seams appear; tiles sticking out of a small scene are padded by
reflection and cropped back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import rasterio
from rasterio.windows import Window

from .model import Model
from .progress import Reporter
from .tiling import blend_weights, tile_starts


@dataclass(frozen=True)
class TileSettings:
    """Tiling of a job: tile size (None: the model's patch size), overlap and batch size."""

    tile: int | None = None
    overlap: int = 32
    batch_size: int = 8


@dataclass(frozen=True)
class RowBlock:
    """Finished rows ``row0 .. row0 + height`` of a scene."""

    row0: int
    probability: np.ndarray  # (h, W) float32 mining probability; undefined where not valid
    valid: np.ndarray  # (h, W) bool: no band is nodata (or NaN)


def valid_mask(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """(H, W) mask of pixels where no band of (C, H, W) ``data`` is nodata or non-finite."""
    valid = np.ones(data.shape[1:], bool)
    if nodata is not None and not np.isnan(nodata):
        valid &= np.all(data != nodata, axis=0)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.all(np.isfinite(data), axis=0)
    return valid


def _pad_to(tile: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad a (C, h, w) tile to (C, size, size)."""
    _, h, w = tile.shape
    if h == size and w == size:
        return tile
    return np.pad(tile, ((0, 0), (0, size - h), (0, size - w)), mode="reflect")


def predict_rows(
    model: Model,
    src: rasterio.io.DatasetReader,
    settings: TileSettings = TileSettings(),
    reporter: Reporter = Reporter(),
) -> Iterator[RowBlock]:
    """Yield the scene's mining probabilities as consecutive row blocks, top to bottom.

    Pixels with nodata (or NaN) in any band are marked invalid and fed to the model as the
    band mean (zero after normalization) so they do not disturb their neighbours.
    """
    tile = settings.tile or model.info.patch_size
    overlap = min(settings.overlap, tile - 1)
    height, width = src.height, src.width
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    th, tw = min(tile, height), min(tile, width)
    x_weights = {
        x0: blend_weights(tw, overlap, taper_start=x0 > 0, taper_end=x0 + tw < width) for x0 in xs
    }
    acc = np.zeros((th, width), np.float32)
    wsum = np.zeros((th, width), np.float32)
    for i, y0 in enumerate(ys):
        reporter.check()
        raw = src.read(window=Window(0, y0, width, th))
        valid = valid_mask(raw, src.nodata)
        strip = model.normalize(raw[None])[0]
        strip[:, ~valid] = 0.0
        wy = blend_weights(th, overlap, taper_start=y0 > 0, taper_end=y0 + th < height)
        for start in range(0, len(xs), settings.batch_size):
            reporter.check()
            chunk = xs[start:start + settings.batch_size]
            batch = np.stack([_pad_to(strip[:, :, x0:x0 + tw], tile) for x0 in chunk])
            probs = model.mining_probability(batch)[:, :th, :tw]
            for p, x0 in zip(probs, chunk):
                w = wy[:, None] * x_weights[x0][None, :]
                acc[:, x0:x0 + tw] += p * w
                wsum[:, x0:x0 + tw] += w
        next_y0 = ys[i + 1] if i + 1 < len(ys) else y0 + th
        done = next_y0 - y0
        yield RowBlock(y0, acc[:done] / wsum[:done], valid[:done])
        # rows from next_y0 on were partly predicted by this strip: carry them over
        acc[: th - done] = acc[done:]
        wsum[: th - done] = wsum[done:]
        acc[th - done:] = 0.0
        wsum[th - done:] = 0.0
        reporter.progress(100.0 * (i + 1) / len(ys))
