"""Mask rasters (footprints, labels): headers, and windows read by the mask rule in passes of
full-width row windows.

Mask rule: a raster's declared nodata value (and NaN) is nodata; every other non-zero value is
mining, so 0/1 footprints with nodata 255 and 0/255 EuroMineNet labels without nodata both work.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rasterio.io import DatasetReader
from rasterio.windows import Window

from ..errors import InputError
from ..progress import Reporter
from .raster import Grid, open_input, open_without_crs_warning, read_window

WINDOW_PIXELS = 1 << 20  # pixels per raster per window of the windowed passes (rounded to whole blocks)


@dataclass(frozen=True)
class MaskInfo:
    """Header facts of a mask raster needed to read it in windows."""

    path: Path
    grid: Grid
    nodata: float | None
    block_rows: int


def inspect_mask(path: Path) -> MaskInfo:
    """Read a single-band mask raster's header, or raise InputError naming the file."""
    with open_input(path) as src:
        if src.count != 1:
            raise InputError(f"{path}: mask raster has {src.count} bands; expected one band")
        return MaskInfo(path, Grid(src.crs, src.transform, src.width, src.height), src.nodata, src.block_shapes[0][0])


def read_masks(src: DatasetReader, info: MaskInfo, window: Window) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(mining, valid) boolean masks of a window of one open mask raster."""
    data = read_window(src, window, 1)
    valid = np.ones(data.shape, bool) if info.nodata is None or math.isnan(info.nodata) else data != info.nodata
    if data.dtype.kind == "f":
        valid &= ~np.isnan(data)
    return (data != 0) & valid, valid


def read_stack(infos: Sequence[MaskInfo], window: Window) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(mining, valid) boolean arrays of shape (len(infos), rows, cols) for one window of every raster."""
    shape = (len(infos), int(window.height), int(window.width))
    mining = np.empty(shape, bool)
    valid = np.empty(shape, bool)
    # Opened per window: closing a dataset frees its blocks from GDAL's cache, which would
    # otherwise keep every block read (each is read once, so caching gains nothing).
    with ExitStack() as stack:
        for t, info in enumerate(infos):
            mining[t], valid[t] = read_masks(stack.enter_context(open_without_crs_warning(info.path)), info, window)
    return mining, valid


def window_rows(grid: Grid, block_rows: int) -> int:
    """Rows per window of a pass over ``grid``: whole blocks of ``block_rows`` rows (the rasters'
    tallest), about WINDOW_PIXELS pixels per raster, no more than the grid holds."""
    blocks = max(1, WINDOW_PIXELS // max(1, grid.width * block_rows))
    return min(grid.height, block_rows * blocks)


def block_windows(grid: Grid, rows: int, reporter: Reporter, columns: int = 256) -> Iterator[Window]:
    """Windows of ``rows`` rows over ``grid``, row band by row band and left to right, each as wide
    as WINDOW_PIXELS allows in whole multiples of ``columns`` (the whole width where it fits), so
    that a pass holds about WINDOW_PIXELS pixels per raster however wide the grid. Cancellation is
    checked before each window and the progress reported once the caller asks for the next one."""
    width = min(grid.width, max(columns, WINDOW_PIXELS // max(1, rows) // columns * columns))
    done = 0
    for row0 in range(0, grid.height, rows):
        for col0 in range(0, grid.width, width):
            reporter.check()
            window = Window(col0, row0, min(width, grid.width - col0), min(rows, grid.height - row0))
            yield window
            done += window.width * window.height
            reporter.progress(100.0 * done / (grid.width * grid.height))


def row_windows(grid: Grid, rows: int, reporter: Reporter) -> Iterator[Window]:
    """Full-width windows of ``rows`` rows over ``grid``, top to bottom. Cancellation is checked
    before each window and the progress reported once the caller asks for the next one."""
    for row0 in range(0, grid.height, rows):
        reporter.check()
        window = Window(0, row0, grid.width, min(rows, grid.height - row0))
        yield window
        reporter.progress(100.0 * (row0 + window.height) / grid.height)
