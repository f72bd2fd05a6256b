"""Tile placement and blending weights for sliding-window inference."""
from __future__ import annotations

import numpy as np


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with at least ``overlap``.

    The last tile is flush with the end, so every tile lies inside the scene when
    ``length >= tile``; a scene shorter than one tile gets one tile at 0 (padded by the caller).
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"tile {tile} with overlap {overlap}: need 0 <= overlap < tile")
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_weights(size: int, overlap: int, taper_start: bool, taper_end: bool) -> np.ndarray:
    """1-D blending weights of a tile, 1 in the middle and tapering over ``overlap`` pixels at each
    tapered end: exactly 0 over the outer quarter of the overlap (where a convolution's view is cut
    by the tile edge), then a raised-cosine ramp up to 1. Ends on the scene border are not tapered.

    Neighbouring tiles overlap by at least ``overlap`` pixels, so every pixel keeps a positive
    total weight from some tile.
    """
    w = np.ones(size, np.float32)
    if overlap <= 0:
        return w
    ramp_len = min(overlap, size)
    dead = ramp_len // 4
    rising = ramp_len - dead
    ramp = np.zeros(ramp_len, np.float32)
    ramp[dead:] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(rising, dtype=np.float32) + 0.5) / rising)
    if taper_start:
        w[:ramp_len] *= ramp
    if taper_end:
        w[size - ramp_len:] *= ramp[::-1]
    return w
