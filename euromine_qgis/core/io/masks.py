"""Mask rasters (footprints, labels): headers, one shared grid, and windows read by the mask rule.

Mask rule: a raster's declared nodata value (and NaN) is nodata; every other non-zero value is
mining, so 0/1 footprints with nodata 255 and 0/255 EuroMineNet labels without nodata both work.
"""
from __future__ import annotations

import math
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from ..errors import InputError
from .grids import align_hint, grid_differences
from .raster import STRICT_READS, Grid, missing_pixel_data, read_window

WINDOW_PIXELS = 1 << 20  # pixels per raster per window of the windowed mask passes (rounded to whole blocks)


@dataclass(frozen=True)
class MaskInfo:
    """Header facts of a mask raster needed to read it in windows."""

    path: Path
    grid: Grid
    nodata: float | None
    block_rows: int


def inspect_mask(path: Path) -> MaskInfo:
    """Read a single-band mask raster's header, or raise InputError naming the file."""
    if not path.is_file():
        raise InputError(f"{path}: file does not exist")
    try:
        with open_mask(path) as src:
            if src.count != 1:
                raise InputError(f"{path}: mask raster has {src.count} bands; expected one band")
            truncated = missing_pixel_data(src, path)
            if truncated:
                raise InputError(f"{path}: {truncated}; copy or export the file again")
            return MaskInfo(path, Grid(src.crs, src.transform, src.width, src.height), src.nodata,
                            src.block_shapes[0][0])
    except InputError:
        raise
    except Exception as exc:  # rasterio and GDAL errors: not a raster
        raise InputError(f"{path}: not a readable raster ({exc})") from exc


def open_mask(path: Path):
    """Open a mask for reading; EuroMineNet labels carry no georeferencing, which is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path)


def same_place(a: Grid, b: Grid) -> bool:
    """Whether two grids of equal size have the same CRS and (to rounding) the same transform."""
    return a.crs == b.crs and a.transform.almost_equals(b.transform)


def common_grid(infos: Sequence[MaskInfo], what: str = "rasters") -> Grid:
    """The grid every one of ``infos`` shares; InputError naming both files of the first mismatch."""
    base = infos[0]
    for info in infos[1:]:
        if info.grid.shape != base.grid.shape or not same_place(info.grid, base.grid):
            raise InputError(
                f"{info.path} and {base.path}: {what} of different years lie on different grids "
                f"({grid_differences(info.grid, base.grid)}); every year must share one grid: "
                + align_hint(info.path, info.grid, base.path, base.grid)
            )
    return base.grid


def read_masks(src, info: MaskInfo, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(mining, valid) boolean masks of a window of one open mask raster."""
    data = read_window(src, window, 1)
    valid = np.ones(data.shape, bool) if info.nodata is None or math.isnan(info.nodata) else data != info.nodata
    if data.dtype.kind == "f":
        valid &= ~np.isnan(data)
    return (data != 0) & valid, valid


def read_stack(infos: Sequence[MaskInfo], window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(mining, valid) boolean arrays of shape (len(infos), rows, cols) for one window of every raster."""
    shape = (len(infos), int(window.height), int(window.width))
    mining = np.empty(shape, bool)
    valid = np.empty(shape, bool)
    # Opened per window: closing a dataset frees its blocks from GDAL's cache, which would
    # otherwise keep every block read (each is read once, so caching gains nothing).
    with ExitStack() as stack:
        stack.enter_context(rasterio.Env(**STRICT_READS))
        for t, info in enumerate(infos):
            mining[t], valid[t] = read_masks(stack.enter_context(open_mask(info.path)), info, window)
    return mining, valid


def window_rows(width: int, block_rows: int, pixels: int) -> int:
    """Rows per window: whole blocks of ``block_rows`` rows, about ``pixels`` pixels per raster."""
    blocks = max(1, pixels // max(1, width * block_rows))
    return block_rows * blocks
