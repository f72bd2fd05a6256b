"""Top-to-bottom reading of an image in whole block rows, so each compressed block is decoded once.

The engine's tile strips overlap, and a strip's rows rarely line up with the GeoTIFF's internal
blocks. GDAL does not keep decoded blocks of a multi-band, pixel-interleaved read in its block
cache, so every windowed read decodes every block it touches again: a 160-row strip every
128 rows over 256-row blocks decodes each block about three times. Reading whole block rows
once and keeping the few rows the next strip still needs removes that repetition.
"""
from __future__ import annotations

import numpy as np
import rasterio
from rasterio.windows import Window

from .raster import read_window

# Above this many bytes of kept rows (very wide scenes, long series) each window is read directly.
ROW_BUFFER_BUDGET = 256 * 2**20


def rows_per_read(src: rasterio.io.DatasetReader, min_rows: int) -> int:
    """The smallest whole number of the file's block rows that holds ``min_rows`` rows."""
    block_height = max(1, src.block_shapes[0][0])
    return block_height * -(-min_rows // block_height)


def buffer_bytes(srcs, min_rows: int) -> int:
    """Bytes of the row buffers RowReader allocates for ``srcs`` and windows of up to ``min_rows`` rows."""
    return sum(_buffer_rows(s, min_rows) * s.width * s.count * np.dtype(s.dtypes[0]).itemsize for s in srcs)


def _buffer_rows(src: rasterio.io.DatasetReader, min_rows: int) -> int:
    # rows a window can still need, one read past them, and up to a block row above a window's
    # first row when reading restarts at a block boundary
    return min_rows + rows_per_read(src, min_rows) + src.block_shapes[0][0]


class RowReader:
    """Windows of one image, requested with non-decreasing first rows and at most ``min_rows`` rows.

    With ``keep_rows`` the image is read in whole block rows across its full width into one
    buffer allocated up front, and the rows a later window can still need are kept; without it
    each window is read on its own (for scenes so wide that the buffer would not fit the memory
    budget).
    """

    def __init__(self, src: rasterio.io.DatasetReader, min_rows: int, keep_rows: bool = True) -> None:
        self.src, self.keep_rows, self.min_rows = src, keep_rows, min_rows
        self.step = rows_per_read(src, min_rows)
        self.block_height = max(1, src.block_shapes[0][0])
        rows = _buffer_rows(src, min_rows) if keep_rows else 0
        self.rows = np.empty((src.count, rows, src.width), src.dtypes[0])
        self.start, self.held = 0, 0  # self.rows[:, :held] holds image rows start .. start + held

    def read(self, window: Window) -> np.ndarray:
        """The (bands, height, width) block of ``window``; a view into the buffer when rows are kept."""
        if not self.keep_rows:
            return read_window(self.src, window)
        y0, y1 = window.row_off, window.row_off + window.height
        if y0 < self.start:
            raise ValueError(f"rows must be read top to bottom: row {y0} requested after row {self.start}")
        if window.height > self.min_rows:
            raise ValueError(f"windows of this reader hold at most {self.min_rows} rows, not {window.height}")
        stop = self.start + self.held
        if y1 > stop:
            keep = max(0, stop - y0)
            if keep:  # move the rows still needed to the top of the buffer
                self.rows[:, :keep] = self.rows[:, self.held - keep:self.held]
                self.start = y0
            else:  # nothing held is needed: restart at the block row holding y0
                self.start = y0 // self.block_height * self.block_height
            self.held = keep
            while self.start + self.held < y1:
                top = self.start + self.held
                height = min(self.step, self.src.height - top)
                read_window(self.src, Window(0, top, self.src.width, height),
                            out=self.rows[:, self.held:self.held + height])
                self.held += height
        rows = self.rows[:, y0 - self.start:y1 - self.start]
        return rows[:, :, window.col_off:window.col_off + window.width]
