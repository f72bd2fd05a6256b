"""Sliding-window inference of a footprint model over a raster of any size.

The scene is cut into vertical panels of about PANEL_BYTES' worth of columns, their edges on tile
starts of the scene's one tile grid, and each panel is walked top to bottom one tile row (strip)
at a time, each strip in batches of the tiles that start in the panel. Within a panel the images
are read in whole GeoTIFF block rows, each decoded once (row_reader), and only the rows later
strips still need are kept. Memory is bounded by the panel's row buffer, batch × tile and its
accumulators (two float rows a tile high and a panel wide), never by the scene's width or height;
the one thing that follows the scene is what a tile left of a panel edge adds to the columns past
it (about tile height × overlap × 4 bytes per strip and map), kept until the next panel uses it.
Every pixel sums its tiles' contributions in the order whole-width strips would (strip by strip,
left to right), so the output does not depend on the panels. Tiles start on the model's
alignment and overlap by at least twice its receptive field (both measured at export, see
receptive_field.py), and each tile's output is dropped within that field of its cut edges and
blended with smooth weights beyond it, so tiled output equals whole-scene inference; the scene is
padded by reflection to a multiple of the alignment (or to one tile) and cropped back. Reading and normalising the
next batches runs in a background thread while the model runs (GDAL and onnxruntime both
release the GIL).
"""
from __future__ import annotations

import bisect
import itertools
import queue
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from ..errors import InputError, OutOfMemory
from ..io.row_reader import ROW_BUFFER_BUDGET, RowReader, RowView, buffer_bytes, decode_threads
from ..io.valid import valid_pixels
from ..progress import Reporter
from .contract import RECEPTIVE_FIELD_TOLERANCE, TOLERANT_FIELD_TOLERANCE, ModelInfo, normalize_into
from .devices import GPU_PROVIDERS
from .tiling import align_up, blend_weights, tile_starts

T = TypeVar("T")

# The engine's own buffers for one panel of a stream (its row buffer, accumulators and finished
# blocks, see panel_columns) are held near this many bytes. Chosen against the 1 GiB target for a
# whole run on a CPU: onnxruntime's activations for one large tile (most of the peak that
# test_bench_memory.py prints) leave room for little more than this, the batches and GDAL's cache; at
# 160-px tiles it still makes panels thousands of columns wide, so few tiles straddle a panel edge.
PANEL_BYTES = 48 * 2**20
# Panels are cut at tile starts at least this many columns apart (GeoTIFF outputs are tiled in
# 256-px blocks: a panel edge leaves at most one partial block column to finish in the next panel).
MIN_PANEL_COLUMNS = 256
# A finished row block handed to the writer while the next is made.
ROW_BLOCKS_IN_FLIGHT = 2
# Batches read ahead are held to about this many bytes (but always one read while another runs): at
# large tiles one batch of a 10-band model is tens of MB, and PREFETCH more of them would cost more
# memory than onnxruntime itself.
READ_AHEAD_BYTES = 64 * 2**20
# Bytes per pixel of a finished row block and its writing: float32 probability, bool valid, the
# thresholded bool, the uint8 footprint and its mining mask (io.raster.footprint_values, AreaTally).
BLOCK_BYTES_PER_PIXEL = 4 + 1 + 1 + 1 + 1


# In bytes: rasterio's Env hands an integer GDAL_CACHEMAX to GDALSetCacheMax, which counts bytes,
# so 256 meant a 256-byte block cache. Every block write then flushed at once, and a reader
# thread flushing the writer's dirty blocks corrupted GeoTIFFs with an internal mask band.
# 64 MiB holds a panel's footprint blocks down a 20 000-row scene (the partial blocks at a panel's
# edge are finished from the cache by the next panel) and a VRT's source blocks; 256 MiB added
# 140 MiB to the peak of a 20 000 x 2400 VRT mosaic and nothing to its speed.
GDAL_CACHE_BYTES = 64 * 2**20


class TileModel(Protocol):
    """What sliding-window inference needs of a model: its contract metadata, the name of what
    runs it, and the positive-class probabilities of a normalized batch. The engine's
    ``model.Model`` is one; ``export.torch_model`` adapts a PyTorch module, so training
    validates a checkpoint exactly as the plugin maps with its export."""

    info: ModelInfo
    provider: str

    def positive_probability(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """(N, H, W) positive-class probabilities of a normalized (N, C·images, H, W) float32 batch,
        or (N, T, H, W) for a series model given T images per sample. OutOfMemory when the
        device runs out of memory for the batch, ModelError when the model cannot run it."""


def engine_env() -> rasterio.Env:
    """GDAL settings of a mapping run: a bounded block cache. (Strict decoding comes with every
    open, io.raster.open_raster; internal mask bands with every mask write, io.raster.write_probability.)"""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)


# TILE_OVERLAP=exact: tiles this many times their overlap, (4 / 3)² or about 1.8 model runs per
# output pixel (the tiling of every release before the tolerant field, kept bit for bit).
TILE_PER_OVERLAP = 4
# The default tiling, by the tolerant field: tiles this many times their overlap, about
# (8 / 7)² = 1.3 model runs per output pixel, up to MAX_TOLERANT_TILE px a side. On this project's
# CPU machines onnxruntime's time per pixel barely changes with the tile's side, but its memory
# grows with the tile's pixels: at 1440-px tiles of unet_footprint a 20 000² scene peaks at about
# 960 MiB (test_bench_memory.py), so tiles stay within this side for the 1 GiB target.
TOLERANT_TILE_PER_OVERLAP = 8
MAX_TOLERANT_TILE = 1472
# The overlap of a model that does not declare its receptive field.
UNDECLARED_OVERLAP = 32
# Pixels per batch when BATCH_SIZE is automatic: large on a GPU (throughput), small on a CPU
# (onnxruntime already uses every core inside one tile; bigger batches only cost memory).
GPU_BATCH_PIXELS = 32 * 160 * 160
CPU_BATCH_PIXELS = 4 * 160 * 160


@dataclass(frozen=True, kw_only=True)
class TileSettings:
    """Tiling of a job as the user asks for it: tile size and overlap (None: from the model's
    receptive field, see resolve_tiling), whether the tiling must reproduce whole-scene inference
    to RECEPTIVE_FIELD_TOLERANCE (``exact``) or to TOLERANT_FIELD_TOLERANCE, batch size (0: chosen
    for the execution provider and the tile) and how many batches are read ahead."""

    tile: int | None = None
    overlap: int | None = None
    exact: bool = False
    batch_size: int
    prefetch: int = 2


@dataclass(frozen=True)
class Tiling:
    """The tiling a model runs with: tile side and overlap in pixels, the alignment of tile starts
    and of the padded scene, and the model's receptive field the tiling follows: the pixels dropped
    at each cut edge of a tile (None: undeclared, a quarter of the overlap is dropped), measured to
    ``tolerance`` in probability."""

    tile: int
    overlap: int
    alignment: int
    receptive_field: int | None
    tolerance: float = RECEPTIVE_FIELD_TOLERANCE

    @property
    def tolerant(self) -> bool:
        """Whether the tiling follows the model's tolerant receptive field (the default tiling)."""
        return self.tolerance == TOLERANT_FIELD_TOLERANCE

    @property
    def exact(self) -> bool:
        """Whether tiled output equals whole-scene inference to ``tolerance``."""
        return self.receptive_field is not None and self.overlap > 2 * self.receptive_field

    @property
    def description(self) -> str:
        """One line for logs: the tiling and how close it comes to whole-scene inference."""
        text = f"tiles of {self.tile} px overlapping by {self.overlap} px"
        field = self.receptive_field
        if field is None:
            return text + ("; the model declares no receptive field, so output near tile edges may "
                           "differ from whole-scene inference")
        if self.exact:
            return text + (f"; the model's receptive field at a probability tolerance of {self.tolerance:g} is "
                           f"{field} px, so tiled output is within {self.tolerance:g} of whole-scene inference")
        return text + (f", less than 2 × the model's {field}-px receptive field + 1 = {2 * field + 1} px: "
                       "output near tile edges differs from whole-scene inference")


def resolve_tiling(info: ModelInfo, settings: TileSettings) -> Tiling:
    """The tiling of ``settings`` for a model. It follows the model's tolerant receptive field
    (tiled output within TOLERANT_FIELD_TOLERANCE of whole-scene inference) unless ``settings.exact``
    asks for the exact one (RECEPTIVE_FIELD_TOLERANCE) or the model records no tolerant field. The
    overlap defaults to 2 × that field + 1 (every kept pixel then sees it whole); the tile to
    TOLERANT_TILE_PER_OVERLAP × the overlap up to MAX_TOLERANT_TILE (exact: TILE_PER_OVERLAP × the
    overlap), but at least the model's patch size, rounded up to the model's alignment. A model
    without a declared field keeps the older tiling: tiles of its patch size, UNDECLARED_OVERLAP px
    of overlap."""
    alignment = info.alignment
    tolerant = not settings.exact and info.tolerant_receptive_field is not None
    field = info.tolerant_receptive_field if tolerant else info.receptive_field
    if settings.overlap is not None:
        overlap = settings.overlap
    else:
        overlap = UNDECLARED_OVERLAP if field is None else 2 * field + 1
    if field is None:  # the older tiling: tiles of the model's patch size
        tile = settings.tile or info.patch_size
        overlap = min(overlap, tile - 1)
    elif tolerant:
        tile = align_up(settings.tile or max(info.patch_size, min(TOLERANT_TILE_PER_OVERLAP * overlap,
                                                                  MAX_TOLERANT_TILE)), alignment)
    else:
        tile = align_up(settings.tile or max(info.patch_size, TILE_PER_OVERLAP * overlap), alignment)
    if (tile - overlap) // alignment < 1:
        raise InputError(f"TILE_OVERLAP: an overlap of {overlap} px leaves no room in tiles of {tile} px "
                         f"(model '{info.name}', alignment {alignment} px)")
    tolerance = TOLERANT_FIELD_TOLERANCE if tolerant else RECEPTIVE_FIELD_TOLERANCE
    return Tiling(tile, overlap, alignment, field, tolerance)


def auto_batch_size(model: TileModel, tile_pixels: int) -> int:
    """Tiles per batch when the user leaves BATCH_SIZE at 0: GPU_BATCH_PIXELS or CPU_BATCH_PIXELS
    worth of tiles of ``tile_pixels`` pixels, at least one."""
    budget = GPU_BATCH_PIXELS if model.provider in GPU_PROVIDERS else CPU_BATCH_PIXELS
    return max(1, budget // tile_pixels)


@dataclass(frozen=True)
class RowBlock:
    """Finished pixels of a scene: rows ``row0 .. row0 + h`` of columns ``col0 .. col0 + w``, as
    (h, w) arrays, or (T, h, w) - one map per year - from a series model."""

    row0: int
    col0: int
    probability: NDArray[np.float32]  # float32 positive-class probability; undefined where not valid
    valid: NDArray[np.bool_]  # bool: no band is nodata (or NaN)

    @property
    def window(self) -> Window:
        """Where the block lies in the scene."""
        return Window(self.col0, self.row0, self.probability.shape[-1], self.probability.shape[-2])


@dataclass(frozen=True)
class _Batch:
    panel: int
    strip: int
    x0s: list[int]
    tiles: NDArray[np.float32]  # (n, C, tile, tile) normalized, padded
    valid: NDArray[np.bool_]  # (maps, th, panel span) bool, shared by the batches of one strip of a panel
    live: NDArray[np.bool_]  # (n,) bool: the tile holds a valid pixel (the model runs only on these)
    last: bool  # the last batch of its strip in its panel


def _reflect_to(raw: NDArray[Any], height: int, width: int) -> NDArray[Any]:
    """Extend a (C, h, w) block to (C, height, width) by reflection at its bottom and right."""
    _, h, w = raw.shape
    if h == height and w == width:
        return raw
    padded: NDArray[Any] = np.pad(raw, ((0, 0), (0, height - h), (0, width - w)), mode="reflect")
    return padded


def _background(items: Iterable[T], depth: int) -> Iterator[T]:
    """Iterate ``items`` in a worker thread, at most ``depth`` (at least 2) of them made and not yet
    given up by the consumer: the one it holds, those waiting for it and the one being made.

    Exceptions in the worker are re-raised in the consumer; leaving the loop early stops the worker.
    """
    # an item comes wrapped in a 1-tuple; None marks the end and an exception the worker's failure
    q: queue.Queue[tuple[T] | BaseException | None] = queue.Queue()
    stop = threading.Event()
    credits = threading.Semaphore(max(2, depth))  # one per item made; the consumer returns it for the next

    def put(item: tuple[T] | BaseException | None) -> bool:
        q.put(item)
        return not stop.is_set()

    def made() -> Iterator[T]:
        iterator = iter(items)
        while True:
            while not credits.acquire(timeout=0.1):
                if stop.is_set():
                    return
            try:
                yield next(iterator)
            except StopIteration:
                return

    def work() -> None:
        try:
            for item in made():
                if not put((item,)):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer
            put(exc)
        finally:
            close = getattr(items, "close", None)  # a generator left early releases what it holds now
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="euromine-reader", daemon=True)
    worker.start()
    try:
        first = True
        while True:
            if not first:  # the consumer is done with the item it held
                credits.release()
            first = False
            entry = q.get()
            if isinstance(entry, BaseException):
                raise entry
            if entry is None:
                return
            yield entry[0]
    finally:
        stop.set()
        worker.join()


def _side(length: int, tiling: Tiling, declared: bool) -> tuple[int, int]:
    """(tile, padded scene) along one axis. The scene is padded to the model's alignment. A model
    that declares its receptive field runs on any multiple of its alignment, so it gets as few
    tiles as the tiling's size needs, each shrunk to the smallest side that still covers the scene
    (one tile of the padded scene when that is shorter). Other models keep the tiling's size.

    A tile's stride is rounded down to the alignment (tile_starts), so the side that spreads the
    overlaps evenly can leave the scene one tile short. The default tiling then grows the side by
    the alignment until its tiles cover the scene; the exact tiling keeps earlier releases' side
    and the extra tile, bit for bit."""
    padded, alignment = align_up(length, tiling.alignment), tiling.alignment
    if padded <= tiling.tile:
        side = padded if declared else tiling.tile
        return side, side
    if declared:
        stride = (tiling.tile - tiling.overlap) // alignment * alignment
        tiles = -(-(padded - tiling.tile) // stride) + 1
        side = align_up(-(-(padded - tiling.overlap) // tiles) + tiling.overlap, alignment)
        if tiling.tolerant:
            while side < tiling.tile and len(tile_starts(padded, side, tiling.overlap, alignment)) > tiles:
                side += alignment
        return min(side, tiling.tile), padded
    return tiling.tile, padded


@dataclass(frozen=True)
class _Panel:
    """Columns ``left .. right`` of the canvas, finished by the tiles that start in them (``xs``)
    and by those of earlier panels that reach into them; ``span`` is where its tiles reach (the
    canvas columns its images are read and padded over, from ``left``)."""

    left: int
    right: int
    xs: list[int]
    span: int


def panel_edges(xs: Sequence[int], canvas_width: int, columns: int) -> list[int]:
    """Panel edges over a canvas whose tiles start at ``xs``: 0, tile starts at most ``columns``
    apart where tiles allow (at least the next tile start), then ``canvas_width``."""
    edges = [0]
    while edges[-1] + columns < canvas_width:
        i = bisect.bisect_right(xs, edges[-1] + columns) - 1
        if xs[i] <= edges[-1]:  # tiles wider apart than a panel: the next tile start
            i += 1
            if i == len(xs):
                break
        edges.append(xs[i])
    return edges + [canvas_width]


def panel_columns(tile_height: int, maps: int, input_column_bytes: int) -> int:
    """Columns per panel: PANEL_BYTES over what one column of a panel holds (``input_column_bytes``
    of row buffer, see io.row_reader.buffer_bytes; float32 and bool accumulators a tile high; the
    finished blocks in flight), at least MIN_PANEL_COLUMNS."""
    per_column = (input_column_bytes + tile_height * (maps * (4 + 1) + 4)
                  + ROW_BLOCKS_IN_FLIGHT * tile_height * maps * BLOCK_BYTES_PER_PIXEL)
    return max(MIN_PANEL_COLUMNS, PANEL_BYTES // per_column)


class _Plan:
    """Where the tiles of one scene go and how each is weighted. Tile positions are in the padded
    scene (``canvas``): the scene extended by reflection at its bottom and right."""

    def __init__(self, height: int, width: int, tiling: Tiling) -> None:
        self.height, self.width, self.tiling = height, width, tiling
        declared = tiling.receptive_field is not None
        self.th, self.canvas_h = _side(height, tiling, declared)
        self.tw, self.canvas_w = _side(width, tiling, declared)
        self.ys = tile_starts(self.canvas_h, self.th, min(tiling.overlap, self.th - 1), tiling.alignment)
        self.xs = tile_starts(self.canvas_w, self.tw, min(tiling.overlap, self.tw - 1), tiling.alignment)
        self._weights: tuple[tuple[bool, bool, bool, bool], NDArray[np.float32]] | None = None

    def weights(self, y0: int, x0: int) -> NDArray[np.float32]:
        """2-D blending weights of the tile at (y0, x0). Only whether each side lies on the canvas
        border matters, so all tiles share at most nine arrays; the last one made is kept (tiles
        come strip by strip, most of them inner ones: a tile's worth of floats, not nine)."""
        key = (y0 > 0, y0 + self.th < self.canvas_h, x0 > 0, x0 + self.tw < self.canvas_w)
        if self._weights is None or self._weights[0] != key:
            overlap, dead = self.tiling.overlap, self.tiling.receptive_field
            wy = blend_weights(self.th, overlap, taper_start=key[0], taper_end=key[1], dead=dead)
            wx = blend_weights(self.tw, overlap, taper_start=key[2], taper_end=key[3], dead=dead)
            self._weights = key, wy[:, None] * wx[None, :]
        return self._weights[1]

    def panels(self, edges: Sequence[int]) -> list[_Panel]:
        """The panels between ``edges`` (0, increasing columns, the canvas width)."""
        out = []
        for left, right in itertools.pairwise(edges):
            xs = self.xs[bisect.bisect_left(self.xs, left):bisect.bisect_left(self.xs, right)]
            out.append(_Panel(left, right, xs, max(right, xs[-1] + self.tw if xs else right) - left))
        return out


@dataclass(frozen=True)
class TileLayout:
    """How predict_rows cuts one scene: the tiling, each tile's side (shrunk to the scene, see
    _side), the strips and tiles per strip, the tiles per batch and the panels' edges."""

    tiling: Tiling
    tile_height: int
    tile_width: int
    canvas_width: int  # the scene's width padded to the model's alignment
    strips: int
    columns: int
    batch_size: int
    panels: tuple[int, ...]  # panel edges: 0, tile starts (predict_rows' cuts), canvas_width (see panel_edges)
    panel_columns: tuple[int, ...]  # tiles per strip that start in each panel
    panel_width: int  # the widest panel's span: the width of its row buffer and accumulators

    @property
    def tiles(self) -> int:
        """Tiles over the whole scene."""
        return self.strips * self.columns

    @property
    def batches(self) -> int:
        """Model runs over the whole scene (each strip of each panel is cut into batches on its own)."""
        return self.strips * sum(-(-n // self.batch_size) for n in self.panel_columns)


def input_column_bytes(srcs: Sequence[rasterio.io.DatasetReader], tile_height: int,
                       indexes: Sequence[Sequence[int] | None] | None = None) -> int:
    """Bytes of row buffer one column of a panel holds for ``srcs`` at tiles ``tile_height`` high."""
    return buffer_bytes(srcs, tile_height, indexes, width=1)


def tile_layout(model: TileModel, height: int, width: int, settings: TileSettings,
                srcs: Sequence[rasterio.io.DatasetReader] | None = None,
                indexes: Sequence[Sequence[int] | None] | None = None) -> TileLayout:
    """The TileLayout predict_rows uses for a ``height`` × ``width`` scene with ``settings`` over
    ``srcs`` (read with ``indexes``, see predict_rows); without them its panels are cut as for
    float32 images of the model's bands, read in 256-row blocks."""
    plan = _Plan(height, width, resolve_tiling(model.info, settings))
    batch_size = settings.batch_size or auto_batch_size(model, plan.th * plan.tw)
    edges = _default_edges(model, plan, srcs, indexes)
    panels = plan.panels(edges)
    return TileLayout(plan.tiling, plan.th, plan.tw, plan.canvas_w, len(plan.ys), len(plan.xs), batch_size,
                      tuple(edges), tuple(len(p.xs) for p in panels), max(p.span for p in panels))


def _default_edges(model: TileModel, plan: _Plan, srcs: Sequence[rasterio.io.DatasetReader] | None,
                   indexes: Sequence[Sequence[int] | None] | None) -> list[int]:
    images = len(srcs) if srcs is not None else max(2, model.info.images_per_sample) if model.info.series \
        else model.info.images_per_sample
    maps = images if model.info.series else 1
    if srcs is not None:
        column_bytes = input_column_bytes(srcs, plan.th, indexes)
    else:
        column_bytes = images * len(model.info.bands) * 4 * (2 * plan.th + 2 * MIN_PANEL_COLUMNS)
    return panel_edges(plan.xs, plan.canvas_w, panel_columns(plan.th, maps, column_bytes))


def engine_batches(model: TileModel, srcs: Sequence[rasterio.io.DatasetReader], settings: TileSettings,
                   indexes: Sequence[Sequence[int] | None] | None = None) -> Generator[NDArray[np.float32], None, None]:
    """The normalized tiles of every batch predict_rows runs over ``srcs`` (arguments as there),
    read and cut as it reads and cuts them, without running the model (every tile, nodata alone
    included): what the pre-run check and the benches time the model and the reader on."""
    plan = _Plan(srcs[0].height, srcs[0].width, resolve_tiling(model.info, settings))
    layout = tile_layout(model, srcs[0].height, srcs[0].width, settings, srcs, indexes)
    batches = _read_batches(srcs, model, plan, layout.batch_size, indexes or [None] * len(srcs),
                            plan.panels(layout.panels))
    with closing(batches):
        for batch in batches:
            yield batch.tiles


def first_batch(model: TileModel, srcs: Sequence[rasterio.io.DatasetReader], settings: TileSettings,
                indexes: Sequence[Sequence[int] | None] | None = None) -> NDArray[np.float32]:
    """The normalized tiles of the first batch predict_rows runs over ``srcs`` (arguments as
    there), read as it reads them: the image's first strip is decoded across the first panel."""
    with closing(engine_batches(model, srcs, settings, indexes)) as batches:
        return next(batches)


@contextmanager
def _row_readers(srcs: Sequence[rasterio.io.DatasetReader], rows: int, indexes: Sequence[Sequence[int] | None],
                 columns: tuple[int, int] | None = None) -> Iterator[list[RowReader]]:
    """A RowReader per image for windows of up to ``rows`` rows over the span ``columns`` (first
    column, width; None: the whole width), with one decoding pool for all."""
    width = None if columns is None else columns[1]
    keep_rows = buffer_bytes(srcs, rows, indexes, width) <= ROW_BUFFER_BUDGET
    threads = decode_threads() if keep_rows else 1
    with ExitStack() as stack:
        pool = None
        if threads > 1:  # one pool for every image: they are read one after another
            pool = stack.enter_context(ThreadPoolExecutor(threads, thread_name_prefix="euromine-decode"))
        yield [stack.enter_context(closing(RowReader(src, rows, keep_rows, pool, threads, bands, columns)))
               for src, bands in zip(srcs, indexes, strict=True)]


@contextmanager
def decoded_once(srcs: Sequence[rasterio.io.DatasetReader], rows: int, indexes: Sequence[Sequence[int] | None],
                 consumers: int, panels: int = 1) -> Iterator[list[list[RowView]] | None]:
    """Views on ``srcs`` for ``consumers`` predict_rows streams (``views[image][stream]``, see its
    ``readers``) that decode each image once however the streams tile it, or None when the
    streams cut the scene into more than one panel (``panels``) or the rows do not fit in memory
    (each stream then reads its own windows). ``rows`` is the tallest tile of the streams
    (tile_layout), ``indexes`` the bands read per image."""
    if panels > 1:
        yield None
        return
    with _row_readers(srcs, rows, indexes) as readers:
        yield [reader.views(consumers) for reader in readers] if all(r.keep_rows for r in readers) else None


def _read_batches(srcs: Sequence[rasterio.io.DatasetReader], model: TileModel, plan: _Plan, batch_size: int,
                  indexes: Sequence[Sequence[int] | None], panels: Sequence[_Panel]) -> Generator[_Batch, None, None]:
    # one buffer for every panel: as wide as the widest
    columns = None if len(panels) == 1 else (panels[0].left, max(_read_width(plan, p) for p in panels))
    with _row_readers(srcs, plan.th, indexes, columns) as readers:
        yield from _batches(srcs, readers, model, plan, batch_size, panels)


def _read_width(plan: _Plan, panel: _Panel) -> int:
    """The image columns a panel reads: its span within the scene."""
    return min(plan.width, panel.left + panel.span) - panel.left


def _batches(srcs: Sequence[rasterio.io.DatasetReader], readers: Sequence[RowReader | RowView], model: TileModel,
             plan: _Plan, batch_size: int, panels: Sequence[_Panel]) -> Generator[_Batch, None, None]:
    bands = len(model.info.bands)
    for k, panel in enumerate(panels):
        if len(panels) > 1:
            for reader in readers:
                assert isinstance(reader, RowReader)  # views are shared by streams of a single panel (decoded_once)
                reader.span(panel.left, _read_width(plan, panel))
        for strip, y0 in enumerate(plan.ys):
            rows = min(plan.th, plan.height - y0)
            window = Window(panel.left, y0, _read_width(plan, panel), rows)
            raws = [_reflect_to(reader.read(window), plan.th, panel.span) for reader in readers]
            valids = [valid_pixels(raw, src.nodata) for raw, src in zip(raws, srcs, strict=True)]
            # series: one map per year, each valid where its own year is; otherwise valid where all images are
            valid = np.stack(valids) if model.info.series else np.logical_and.reduce(valids)[None]
            starts = range(0, len(panel.xs), batch_size) if panel.xs else [0]
            for start in starts:
                yield _tiles_batch(k, strip, panel, panel.xs[start:start + batch_size], raws, valid, model,
                                   plan, bands, last=start == starts[-1])


def _tiles_batch(panel_index: int, strip: int, panel: _Panel, x0s: list[int], raws: Sequence[NDArray[Any]],
                 valid: NDArray[np.bool_], model: TileModel, plan: _Plan, bands: int, last: bool) -> _Batch:
    """The normalized tiles at ``x0s`` of one strip of a panel, cut from its padded images ``raws``."""
    # Every live tile is written whole below. Into np.zeros' pages, normalising one 1344 x 1408
    # tile of 10 bands took 68 ms on the 2-core EPYC; into np.empty's, 24 ms.
    tiles = np.empty((len(x0s), bands * len(raws), plan.th, plan.tw), np.float32)
    live = np.zeros(len(x0s), bool)
    for i, x0 in enumerate(x0s):
        columns = slice(x0 - panel.left, x0 - panel.left + plan.tw)
        live[i] = valid[:, :, columns].any()
        if not live[i]:  # all nodata: its probabilities are never used, the model is not run
            continue
        for j, raw in enumerate(raws):
            tile = tiles[i, j * bands:(j + 1) * bands]
            normalize_into(tile, raw[:, :, columns], model.info.mean, model.info.std)
            ok = valid[j if model.info.series else 0, :, columns]
            if not ok.all():  # nodata enters the model as the band mean (zero once normalized)
                tile[:, ~ok] = 0.0
    return _Batch(panel_index, strip, x0s, tiles, valid, live, last)


class _Runner:
    """Runs batches through the model, halving the batch size whenever the device runs out of memory."""

    def __init__(self, model: TileModel, batch_size: int, reporter: Reporter) -> None:
        self.model, self.size, self.reporter = model, batch_size, reporter

    def __call__(self, tiles: NDArray[np.float32]) -> NDArray[np.float32]:
        out, start = [], 0
        while start < len(tiles):
            chunk = tiles[start:start + self.size]
            try:
                out.append(self.model.positive_probability(chunk))
            except OutOfMemory:
                if self.size == 1:
                    raise
                self.size = max(1, self.size // 2)
                self.reporter.info(f"Out of memory on {self.model.provider}: batch size lowered to {self.size}")
                continue
            start += len(chunk)
        return out[0] if len(out) == 1 else np.concatenate(out)


def predict_rows(
    model: TileModel,
    src: rasterio.io.DatasetReader | Sequence[rasterio.io.DatasetReader],
    settings: TileSettings,
    reporter: Reporter = Reporter(),
    indexes: Sequence[Sequence[int] | None] | None = None,
    readers: Sequence[RowView] | None = None,
    cuts: Sequence[int] | None = None,
) -> Generator[RowBlock, None, None]:
    """Yield the scene's positive-class probabilities (mining; change for a change model) as
    blocks of finished pixels: panel by panel from the left, each top to bottom.

    ``src`` is one image, for a change model the (before, after) images on one grid, and for a
    series model every year's image on one grid (blocks then hold one map per year). Pixels
    with nodata (or NaN) in any band are marked invalid - for footprint and change models in
    any image, for a series model in that year's image - and fed to the model as the band mean
    (zero after normalization) so they do not disturb their neighbours. ``indexes`` holds, per
    image, the 1-based bands that feed the model in its order (io.bands; None: every band).
    ``readers`` (from decoded_once, one per image) share the decoding with other streams over the
    same images; without them the stream decodes its images itself. ``cuts`` are the columns where
    panels meet (None: tile_layout's; streams combined pixel by pixel pass one stream's to all,
    see maps.bitemporal). Any increasing columns inside the scene give the same output; cuts on
    tile starts keep least in memory.
    """
    srcs = [src] if isinstance(src, rasterio.io.DatasetReader) else list(src)
    if model.info.series and len(srcs) < 2:
        raise ValueError(f"series model '{model.info.name}' needs at least two years, got {len(srcs)}")
    if not model.info.series and len(srcs) != model.info.images_per_sample:
        raise ValueError(f"model '{model.info.name}' takes {model.info.images_per_sample} image(s) per sample, "
                         f"got {len(srcs)}")
    indexes = indexes or [None] * len(srcs)
    plan = _Plan(srcs[0].height, srcs[0].width, resolve_tiling(model.info, settings))
    batch_size = settings.batch_size or auto_batch_size(model, plan.th * plan.tw)
    edges = [0, *cuts, plan.canvas_w] if cuts is not None else _default_edges(model, plan, srcs, indexes)
    if any(a >= b for a, b in itertools.pairwise(edges)) or edges[-2] >= plan.width:
        raise ValueError(f"panel cuts {edges[1:-1]} are not increasing columns inside the scene's {plan.width}")
    cut = plan.panels(edges)
    if readers is None:
        batches = _read_batches(srcs, model, plan, batch_size, indexes, cut)
    else:
        batches = _batches(srcs, readers, model, plan, batch_size, cut)
    maps = len(srcs) if model.info.series else 1
    blender = _Blender(plan, maps)
    run = _Runner(model, batch_size, reporter)
    th = plan.th
    batch_bytes = batch_size * len(model.info.bands) * len(srcs) * plan.th * plan.tw * 4
    for batch in _background(batches, min(settings.prefetch + 2, READ_AHEAD_BYTES // batch_bytes)):
        reporter.check()
        blender.start(cut[batch.panel], batch.strip)
        if batch.live.any() and batch.live.all():
            probabilities = run(batch.tiles).reshape(len(batch.x0s), maps, th, plan.tw)
        else:  # tiles of nodata alone are not run: their probabilities are never used
            probabilities = np.zeros((len(batch.x0s), maps, th, plan.tw), np.float32)
            if batch.live.any():
                probabilities[batch.live] = run(batch.tiles[batch.live]).reshape(-1, maps, th, plan.tw)
        for p, x0 in zip(probabilities, batch.x0s, strict=True):
            blender.add(x0, p * plan.weights(plan.ys[batch.strip], x0))
        if not batch.last:
            continue
        block = blender.finish(batch.valid)
        yield block if model.info.series else RowBlock(block.row0, block.col0, block.probability[0], block.valid[0])
        reporter.progress(100.0 * (batch.panel * len(plan.ys) + batch.strip + 1) / (len(cut) * len(plan.ys)))


class _Blender:
    """The weighted sums of one panel's strips. Each tile's weighted output is added where it falls
    in the panel; what falls past the panel's right edge is kept for the next panel, which adds it
    before its own tiles, so every pixel sums its tiles in the order of whole-width strips."""

    def __init__(self, plan: _Plan, maps: int) -> None:
        self.plan, self.maps = plan, maps
        self.panel: _Panel | None = None
        self.strip = -1
        self.acc = np.zeros((maps, plan.th, 0), np.float32)
        self.wsum = np.zeros((plan.th, 0), np.float32)
        self.incoming: dict[int, list[tuple[int, NDArray[np.float32]]]] = {}  # strip: [(x0, product's right part)]
        self.outgoing: dict[int, list[tuple[int, NDArray[np.float32]]]] = {}

    def start(self, panel: _Panel, strip: int) -> None:
        """Begin ``strip`` of ``panel`` (nothing when it has begun): the first strip of a panel
        starts its accumulators; every strip first adds what earlier panels' tiles left for it."""
        if panel is not self.panel:
            self.panel = panel
            self.incoming, self.outgoing = self.outgoing, {}
            width = panel.right - panel.left
            self.acc = np.zeros((self.maps, self.plan.th, width), np.float32)
            self.wsum = np.zeros((self.plan.th, width), np.float32)
        elif strip == self.strip:
            return
        self.strip = strip
        for x0, product in self.incoming.pop(strip, []):
            self.add(x0, product)

    def add(self, x0: int, product: NDArray[np.float32]) -> None:
        """Add the weighted output of the tile at ``x0`` of this strip (or the right part of it)."""
        assert self.panel is not None
        plan, left, right = self.plan, self.panel.left, self.panel.right
        first = x0 + plan.tw - product.shape[-1]  # the canvas column of product's first column
        weights = plan.weights(plan.ys[self.strip], x0)[:, plan.tw - product.shape[-1]:]
        a, b = max(first, left), min(x0 + plan.tw, right)
        self.acc[:, :, a - left:b - left] += product[:, :, a - first:b - first]
        self.wsum[:, a - left:b - left] += weights[:, a - first:b - first]
        if x0 + plan.tw > right:
            self.outgoing.setdefault(self.strip, []).append((x0, product[:, :, right - first:].copy()))

    def finish(self, valid: NDArray[np.bool_]) -> RowBlock:
        """The strip's finished rows (those the next strip does not reach) over the panel's columns
        in the scene, with ``valid`` (the strip's, over the panel's span); the rest move up."""
        assert self.panel is not None
        plan, y0, th = self.plan, self.plan.ys[self.strip], self.plan.th
        last = self.strip + 1 == len(plan.ys)
        done = min(th, plan.height - y0) if last else plan.ys[self.strip + 1] - y0
        width = min(self.panel.right, plan.width) - self.panel.left
        block = RowBlock(y0, self.panel.left, self.acc[:, :done, :width] / self.wsum[:done, :width],
                         valid[:, :done, :width].copy())
        # rows from the next strip's start on were partly predicted by this strip: carry them over
        self.acc[:, :th - done] = self.acc[:, done:]
        self.wsum[:th - done] = self.wsum[done:]
        self.acc[:, th - done:] = 0.0
        self.wsum[th - done:] = 0.0
        return block


def predict_scene(model: TileModel, src: rasterio.io.DatasetReader | Sequence[rasterio.io.DatasetReader],
                  settings: TileSettings, reporter: Reporter = Reporter(),
                  indexes: Sequence[Sequence[int] | None] | None = None
                  ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """predict_rows' blocks put together: the whole scene's (H, W) probability and valid arrays, or
    (T, H, W) from a series model. For scenes that fit in memory (scores, measurements, tests); the
    mapping algorithms write the blocks as they come."""
    srcs = [src] if isinstance(src, rasterio.io.DatasetReader) else list(src)
    shape = ((len(srcs),) if model.info.series else ()) + (srcs[0].height, srcs[0].width)
    probability = np.zeros(shape, np.float32)
    valid = np.zeros(shape, bool)
    for block in predict_rows(model, src, settings, reporter, indexes):
        rows, cols = block.window.toslices()
        probability[..., rows, cols] = block.probability
        valid[..., rows, cols] = block.valid
    return probability, valid
