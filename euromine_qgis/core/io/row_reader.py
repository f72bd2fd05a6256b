"""Top-to-bottom reading of an image in whole block rows, so each compressed block is decoded once.

A reader covers one column span of the image (a panel of the engine, see engine.inference), so its
buffer grows with the span's width, never with the image's; reading the next panel restarts it
at the top (``span``).

The engine's tile strips overlap, and a strip's rows rarely line up with the GeoTIFF's internal
blocks. GDAL does not keep decoded blocks of a multi-band, pixel-interleaved read in its block
cache, so every windowed read decodes every block it touches again: a 160-row strip every
128 rows over 256-row blocks decodes each block about three times. Reading whole block rows
once and keeping the few rows the next strip still needs removes that repetition.

A block row is decoded by several threads at once, each with its own dataset handle, on pieces
split at block boundaries. GDAL's own multi-threaded decoding would do this, but in GDAL 3.6 it
hides damaged blocks (see raster.STRICT_READS), so the threads are ours; each opens its handle
with open_raster, from the image's name with its driver and open options (a VRT's ROOT_PATH, an
OVERVIEW_LEVEL). A dataset that its name does not open again (a WarpedVRT, a MEM dataset) is read
through the caller's handle alone.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from .raster import open_raster, read_window

# Above this many bytes of kept rows (long series of many bands) each window is read directly.
ROW_BUFFER_BUDGET = 256 * 2**20
MAX_DECODE_THREADS = 8
# Rows read at once for windows taller than this (large tiles): enough for the decoding threads to
# share, few enough that the buffer stays near one window's rows.
READ_ROWS = 256


def decode_threads() -> int:
    """Threads that decode one image's block rows: one per core, at most MAX_DECODE_THREADS."""
    return max(1, min(MAX_DECODE_THREADS, os.cpu_count() or 1))


def open_again(src: DatasetReader) -> DatasetReader:
    """Another handle on ``src``: its name opened with open_raster, with its driver and open options."""
    return open_raster(src.name, driver=src.driver, **src.options)


def opens_again(src: DatasetReader) -> bool:
    """Whether open_again gives a handle on the same raster as ``src``."""
    try:
        with open_again(src) as other:
            return (other.count, other.shape, other.dtypes, other.transform) == \
                (src.count, src.shape, src.dtypes, src.transform)
    except (RasterioError, OSError):  # RasterioIOError (an OSError): a name that is no file, as a WarpedVRT's
        return False


def split_at_blocks(src: DatasetReader, window: Window, parts: int) -> list[Window]:
    """``window`` (whole block rows over a column span) cut into at most ``parts`` pieces along
    block boundaries: across block columns when the file is tiled, else across block rows."""
    block_height, block_width = src.block_shapes[0]
    if block_width < window.width:
        edges = _edges(window.col_off, window.width, parts, block_width)
        return [Window(a, window.row_off, b - a, window.height) for a, b in pairwise(edges)]
    edges = _edges(window.row_off, window.height, parts, block_height)
    return [Window(window.col_off, a, window.width, b - a) for a, b in pairwise(edges)]


def _edges(start: int, length: int, parts: int, block: int) -> list[int]:
    """Piece boundaries (in pixels) splitting ``start .. start + length`` at multiples of ``block``,
    the blocks it touches shared among at most ``parts`` pieces as evenly as possible."""
    first = start // block
    blocks = -(-(start + length) // block) - first
    parts = max(1, min(parts, blocks))
    return [min(start + length, max(start, (first + blocks * k // parts) * block)) for k in range(parts + 1)]


def rows_per_read(src: DatasetReader, min_rows: int) -> int:
    """Rows of one read: the smallest whole number of the file's block rows that holds ``min_rows``
    rows, or READ_ROWS for taller windows (the buffer then holds a window and one read, not two windows)."""
    block_height = max(1, int(src.block_shapes[0][0]))
    return block_height * -(-min(min_rows, READ_ROWS) // block_height)


def buffer_bytes(srcs: Sequence[DatasetReader], min_rows: int,
                 indexes: Sequence[Sequence[int] | None] | None = None, width: int | None = None) -> int:
    """Bytes of the row buffers RowReader allocates for ``srcs``, windows of up to ``min_rows`` rows
    over spans of ``width`` columns (None: the whole image) and, per source, the bands read
    (``indexes``; every band when None)."""
    indexes = indexes or [None] * len(srcs)
    return sum(_buffer_rows(s, min_rows) * (int(s.width) if width is None else min(width, int(s.width)))
               * (int(s.count) if ix is None else len(ix)) * np.dtype(s.dtypes[0]).itemsize
               for s, ix in zip(srcs, indexes, strict=True))


def _buffer_rows(src: DatasetReader, min_rows: int) -> int:
    # rows a window can still need, one read past them, and up to a block row above a window's
    # first row when reading restarts at a block boundary
    return min_rows + rows_per_read(src, min_rows) + int(src.block_shapes[0][0])


class RowReader:
    """Windows of one image, requested with non-decreasing first rows and at most ``min_rows`` rows,
    within the column span ``columns`` (first column, width; None: the whole width; see ``span``).

    With ``keep_rows`` the image is read in whole block rows across the span into one
    buffer allocated up front, and the rows a later window can still need are kept; without it
    each window is read on its own (for scenes so wide that the buffer would not fit the memory
    budget). With a ``pool``, each block row is read as ``pieces`` pieces on its threads, each
    thread through its own handle (see open_again; without one, rows are read on the caller's
    thread). Close the reader to close those handles. Every read holds the 1-based bands
    ``indexes`` in that order (every band when None): the bands that feed the model (io.bands).
    """

    def __init__(self, src: DatasetReader, min_rows: int, keep_rows: bool = True,
                 pool: ThreadPoolExecutor | None = None, pieces: int = 1,
                 indexes: Sequence[int] | None = None, columns: tuple[int, int] | None = None) -> None:
        self.src, self.keep_rows, self.min_rows = src, keep_rows, min_rows
        self.indexes = list(indexes) if indexes is not None else list(range(1, src.count + 1))
        self.step = rows_per_read(src, min_rows)
        self.block_height = max(1, src.block_shapes[0][0])
        self.col0, self.width = columns or (0, int(src.width))
        rows = _buffer_rows(src, min_rows) if keep_rows else 0
        self.rows = np.empty((len(self.indexes), rows, self.width), src.dtypes[0])
        self.start, self.held = 0, 0  # self.rows[:, :held] holds image rows start .. start + held
        threaded = keep_rows and pieces > 1 and pool is not None and opens_again(src)
        self._pool, self.pieces = (pool, pieces) if threaded else (None, 1)
        self._local = threading.local()
        self._handles: list[DatasetReader] = []
        self._lock = threading.Lock()
        self._views: list[RowView] = []
        self._sharing = threading.Lock()  # one view's read at a time (the decoding threads take _lock)

    def span(self, col0: int, width: int) -> None:
        """Read columns ``col0 .. col0 + width`` from now on, from the top of the image again (the
        next panel), in the same buffer when it is wide enough."""
        self.col0, self.width, self.start, self.held = col0, width, 0, 0
        if self.keep_rows and width > self.rows.shape[2]:
            self.rows = np.empty((len(self.indexes), self.rows.shape[1], width), self.rows.dtype)

    def read(self, window: Window) -> NDArray[Any]:
        """The (bands, height, width) block of ``window``; a view into the buffer when rows are kept."""
        if window.col_off < self.col0 or window.col_off + window.width > self.col0 + self.width:
            raise ValueError(f"columns {window.col_off} .. {window.col_off + window.width} lie outside this "
                             f"reader's span {self.col0} .. {self.col0 + self.width}")
        if not self.keep_rows:
            return read_window(self.src, window, self.indexes)
        y0, y1 = window.row_off, window.row_off + window.height
        if y0 < self.start:
            raise ValueError(f"rows must be read top to bottom: row {y0} requested after row {self.start}")
        if window.height > self.min_rows:
            raise ValueError(f"windows of this reader hold at most {self.min_rows} rows, not {window.height}")
        self._hold(y0, y1)
        return self._slice(window)

    def views(self, consumers: int) -> list[RowView]:
        """``consumers`` views that share this reader, each read on its own thread, so that several
        streams over one image decode it once (the rows are kept in memory: ``keep_rows``)."""
        if not self.keep_rows:
            raise ValueError("only a reader that keeps its rows can be shared")
        self._views = [RowView(self) for _ in range(consumers)]
        return list(self._views)

    def _shared_read(self, view: RowView, window: Window) -> NDArray[Any]:
        """``window`` for one of the views: a copy, since another view may move the buffer next."""
        with self._sharing:
            if window.row_off < view.row:
                raise ValueError(f"rows must be read top to bottom: row {window.row_off} after row {view.row}")
            view.row = window.row_off
            # rows stay until every view has passed them; the views advance together (their
            # consumers' outputs are aligned row by row), so the buffer grows by at most their lead
            self._hold(min(v.row for v in self._views), window.row_off + window.height)
            return self._slice(window).copy()

    def _slice(self, window: Window) -> NDArray[Any]:
        rows = self.rows[:, window.row_off - self.start:window.row_off + window.height - self.start]
        return rows[:, :, window.col_off - self.col0:window.col_off - self.col0 + window.width]

    def _hold(self, lower: int, y1: int) -> None:
        """Make the buffer hold image rows ``lower .. y1``, dropping the rows above ``lower``."""
        stop = self.start + self.held
        if y1 <= stop:
            return
        keep = max(0, stop - lower)
        need = y1 - lower + self.block_height + self.step  # the most rows the reads below can leave held
        if need > self.rows.shape[1]:  # only views ask for more rows than one window holds
            grown = np.empty((len(self.indexes), need, self.rows.shape[2]), self.rows.dtype)
            grown[:, :keep] = self.rows[:, self.held - keep:self.held]
            self.rows = grown
        elif keep:  # move the rows still needed to the top of the buffer
            self.rows[:, :keep] = self.rows[:, self.held - keep:self.held]
        # nothing held is needed: restart at the block row holding ``lower``
        self.start = lower if keep else lower // self.block_height * self.block_height
        self.held = keep
        while self.start + self.held < y1:
            top = self.start + self.held
            height = min(self.step, self.src.height - top)
            self._read_rows(Window(self.col0, top, self.width, height), self.held)
            self.held += height

    def _read_rows(self, window: Window, at: int) -> None:
        """Read the span-wide ``window`` into the buffer from row ``at`` on, in pieces on the pool."""
        if self._pool is None:
            read_window(self.src, window, self.indexes, out=self.rows[:, at:at + window.height, :window.width])
            return

        def read_piece(piece: Window) -> None:
            rows = slice(at + piece.row_off - window.row_off, at + piece.row_off - window.row_off + piece.height)
            columns = slice(piece.col_off - window.col_off, piece.col_off - window.col_off + piece.width)
            read_window(self._handle(), piece, self.indexes, out=self.rows[:, rows, columns])

        pieces = [self._pool.submit(read_piece, p) for p in split_at_blocks(self.src, window, self.pieces)]
        wait(pieces)  # every piece ends before an error leaves: handles are closed right after one
        for piece in pieces:
            piece.result()

    def _handle(self) -> DatasetReader:
        """This thread's own handle on the image (GDAL handles must not be shared between threads)."""
        handle = getattr(self._local, "src", None)
        if handle is None:
            handle = self._local.src = open_again(self.src)
            with self._lock:
                self._handles.append(handle)
        return handle

    def close(self) -> None:
        """Close the decoding threads' handles (the pool belongs to the caller)."""
        for handle in self._handles:
            handle.close()
        self._handles.clear()


class RowView:
    """One consumer's reads of a shared RowReader (RowReader.views): its windows, top to bottom."""

    def __init__(self, reader: RowReader) -> None:
        self.reader, self.row = reader, 0

    def read(self, window: Window) -> NDArray[Any]:
        """The (bands, height, width) block of ``window``, a copy of the shared reader's rows."""
        return self.reader._shared_read(self, window)
