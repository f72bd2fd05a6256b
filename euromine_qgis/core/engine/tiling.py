"""Tile placement and blending weights for sliding-window inference."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def align_up(length: int, alignment: int) -> int:
    """``length`` rounded up to a multiple of ``alignment``."""
    return -(-length // alignment) * alignment


def tile_starts(length: int, tile: int, overlap: int, alignment: int = 1) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with at least ``overlap``,
    each a multiple of ``alignment`` (``tile`` must be one too, or ``length`` not longer than it).

    The last tile ends flush with ``length``, which the caller pads to a multiple of ``alignment``
    (reflecting the scene) so that every tile sees the model's pooling grid where a run on the whole
    scene sees it; a scene shorter than one tile gets one tile at 0 (padded by the caller).
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"tile {tile} with overlap {overlap}: need 0 <= overlap < tile")
    if length <= tile:
        return [0]
    stride = (tile - overlap) // alignment * alignment
    if stride == 0 or (length - tile) % alignment:
        raise ValueError(f"tile {tile} with overlap {overlap} over {length} px does not fit alignment {alignment}")
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_weights(size: int, overlap: int, taper_start: bool, taper_end: bool,
                  dead: int | None = None) -> NDArray[np.float32]:
    """1-D blending weights of a tile, 1 in the middle and tapering over ``overlap`` pixels at each
    tapered end: exactly 0 over the outer ``dead`` pixels (where the model's view is cut by the tile
    edge: its receptive field; default a quarter of the overlap), then a raised-cosine ramp up to 1.
    Ends on the scene border are not tapered.

    Neighbouring tiles overlap by at least ``overlap`` pixels, so with ``2 dead < overlap`` every
    pixel keeps a positive total weight, and only from tiles that see it at least ``dead`` pixels
    away from their cut edges.
    """
    w = np.ones(size, np.float32)
    if overlap <= 0:
        return w
    ramp_len = min(overlap, size)
    dead = ramp_len // 4 if dead is None else min(dead, (ramp_len - 1) // 2)
    rising = ramp_len - dead
    ramp = np.zeros(ramp_len, np.float32)
    ramp[dead:] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(rising, dtype=np.float32) + 0.5) / rising)
    if taper_start:
        w[:ramp_len] *= ramp
    if taper_end:
        w[size - ramp_len:] *= ramp[::-1]
    return w
