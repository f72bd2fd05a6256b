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
ROW_BUFFER_BUDGET = 512 * 2**20


def rows_per_read(src: rasterio.io.DatasetReader, min_rows: int) -> int:
    """The smallest whole number of the file's block rows that holds ``min_rows`` rows."""
    block_height = max(1, src.block_shapes[0][0])
    return block_height * -(-min_rows // block_height)


def buffer_bytes(srcs, min_rows: int) -> int:
    """Bytes the row buffers of ``srcs`` hold at most when strips of ``min_rows`` rows are read."""
    return sum((min_rows + rows_per_read(s, min_rows)) * s.width * s.count * np.dtype(s.dtypes[0]).itemsize
               for s in srcs)


class RowReader:
    """Windows of one image, requested with non-decreasing first rows.

    With ``keep_rows`` the image is read in whole block rows across its full width and the rows
    a later request can still need are kept; without it each window is read on its own (for
    scenes so wide that the kept rows would not fit the memory budget).
    """

    def __init__(self, src: rasterio.io.DatasetReader, min_rows: int, keep_rows: bool = True) -> None:
        self.src, self.keep_rows = src, keep_rows
        self.step = rows_per_read(src, min_rows)
        self.rows = np.empty((src.count, 0, src.width), src.dtypes[0])
        self.start = 0  # first image row held in self.rows

    def read(self, window: Window) -> np.ndarray:
        """The (bands, height, width) block of ``window``; a view into the kept rows when kept."""
        if not self.keep_rows:
            return read_window(self.src, window)
        y0, y1 = window.row_off, window.row_off + window.height
        if y0 < self.start:
            raise ValueError(f"rows must be read top to bottom: row {y0} requested after row {self.start}")
        stop = self.start + self.rows.shape[1]
        if y1 > stop:
            parts = [self.rows[:, y0 - self.start:]] if y0 < stop else []
            while stop < y1:
                height = min(self.step, self.src.height - stop)
                parts.append(read_window(self.src, Window(0, stop, self.src.width, height)))
                stop += height
            self.rows = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
            self.start = stop - self.rows.shape[1]
        rows = self.rows[:, y0 - self.start:y1 - self.start]
        return rows[:, :, window.col_off:window.col_off + window.width]
