"""Sliding-window inference of a footprint model over a raster of any size.

The scene is walked one tile row (strip) at a time and each strip in batches of tiles. Images
are read top to bottom in whole GeoTIFF block rows, each decoded once (row_reader), and only
the rows later strips still need are kept. Memory is bounded by that row buffer (at most
ROW_BUFFER_BUDGET; scenes too wide for it are read window by window), batch × tile and two
strip-wide float rows of accumulators, never by the scene's height. Tiles start on the model's
alignment and overlap by at least twice its receptive field (both measured at export, see
receptive_field.py), and each tile's output is dropped within that field of its cut edges and
blended with smooth weights beyond it, so tiled output equals whole-scene inference; the scene is
padded by reflection to a multiple of the alignment (or to one tile) and cropped back. Reading and normalising the
next batches runs in a background thread while the model runs (GDAL and onnxruntime both
release the GIL).
"""
from __future__ import annotations

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
from .contract import ModelInfo, normalize_into
from .devices import GPU_PROVIDERS
from .tiling import align_up, blend_weights, tile_starts

T = TypeVar("T")


# In bytes: rasterio's Env hands an integer GDAL_CACHEMAX to GDALSetCacheMax, which counts bytes,
# so 256 meant a 256-byte block cache. Every block write then flushed at once, and a reader
# thread flushing the writer's dirty blocks corrupted GeoTIFFs with an internal mask band.
GDAL_CACHE_BYTES = 256 * 2**20


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


# A tile this many times its overlap keeps the pixels the model runs twice or more few:
# (tile / (tile - overlap))² is about 1.8 model runs per output pixel.
TILE_PER_OVERLAP = 4
# The overlap of a model that does not declare its receptive field.
UNDECLARED_OVERLAP = 32
# Pixels per batch when BATCH_SIZE is automatic: large on a GPU (throughput), small on a CPU
# (onnxruntime already uses every core inside one tile; bigger batches only cost memory).
GPU_BATCH_PIXELS = 32 * 160 * 160
CPU_BATCH_PIXELS = 4 * 160 * 160


@dataclass(frozen=True, kw_only=True)
class TileSettings:
    """Tiling of a job as the user asks for it: tile size and overlap (None: from the model's
    receptive field, see resolve_tiling), batch size (0: chosen for the execution provider and the
    tile) and how many batches are read ahead."""

    tile: int | None = None
    overlap: int | None = None
    batch_size: int
    prefetch: int = 2


@dataclass(frozen=True)
class Tiling:
    """The tiling a model runs with: tile side and overlap in pixels, the alignment of tile starts
    and of the padded scene, and the model's receptive field: the pixels dropped at each cut edge of
    a tile (None: undeclared, a quarter of the overlap is dropped)."""

    tile: int
    overlap: int
    alignment: int
    receptive_field: int | None

    @property
    def exact(self) -> bool:
        """Whether tiled output equals whole-scene inference (to the measurement's tolerance)."""
        return self.receptive_field is not None and self.overlap > 2 * self.receptive_field

    @property
    def description(self) -> str:
        """One line for logs: the tiling and whether it reproduces whole-scene inference."""
        text = f"tiles of {self.tile} px overlapping by {self.overlap} px"
        field = self.receptive_field
        if field is None:
            return text + ("; the model declares no receptive field, so output near tile edges may "
                           "differ from whole-scene inference")
        if self.exact:
            return text + f"; the model's receptive field is {field} px, so tiled output equals whole-scene inference"
        return text + (f", less than 2 × the model's {field}-px receptive field + 1 = {2 * field + 1} px: "
                       "output near tile edges differs from whole-scene inference")


def resolve_tiling(info: ModelInfo, settings: TileSettings) -> Tiling:
    """The tiling of ``settings`` for a model: the overlap defaults to 2 × its receptive field + 1
    (every kept pixel then sees its whole field), the tile to TILE_PER_OVERLAP × the overlap but
    at least the model's patch size, rounded up to the model's alignment. A model without a
    declared field keeps the older tiling: tiles of its patch size, UNDECLARED_OVERLAP px of overlap."""
    field, alignment = info.receptive_field, info.alignment
    if settings.overlap is not None:
        overlap = settings.overlap
    else:
        overlap = UNDECLARED_OVERLAP if field is None else 2 * field + 1
    if field is None:  # the older tiling: tiles of the model's patch size
        tile = settings.tile or info.patch_size
        overlap = min(overlap, tile - 1)
    else:
        tile = align_up(settings.tile or max(info.patch_size, TILE_PER_OVERLAP * overlap), alignment)
    if (tile - overlap) // alignment < 1:
        raise InputError(f"TILE_OVERLAP: an overlap of {overlap} px leaves no room in tiles of {tile} px "
                         f"(model '{info.name}', alignment {alignment} px)")
    return Tiling(tile, overlap, alignment, field)


def auto_batch_size(model: TileModel, tile_pixels: int) -> int:
    """Tiles per batch when the user leaves BATCH_SIZE at 0: GPU_BATCH_PIXELS or CPU_BATCH_PIXELS
    worth of tiles of ``tile_pixels`` pixels, at least one."""
    budget = GPU_BATCH_PIXELS if model.provider in GPU_PROVIDERS else CPU_BATCH_PIXELS
    return max(1, budget // tile_pixels)


@dataclass(frozen=True)
class RowBlock:
    """Finished rows ``row0 .. row0 + height`` of a scene: (h, W) arrays, or (T, h, W) - one
    map per year - from a series model."""

    row0: int
    probability: NDArray[np.float32]  # float32 positive-class probability; undefined where not valid
    valid: NDArray[np.bool_]  # bool: no band is nodata (or NaN)


@dataclass(frozen=True)
class _Batch:
    strip: int
    x0s: list[int]
    tiles: NDArray[np.float32]  # (n, C, tile, tile) normalized, padded
    valid: NDArray[np.bool_]  # (maps, th, x_stop - x_start) bool
    x_start: int
    live: NDArray[np.bool_]  # (n,) bool: the tile holds a valid pixel (the model runs only on these)


def _reflect_to(raw: NDArray[Any], height: int, width: int) -> NDArray[Any]:
    """Extend a (C, h, w) block to (C, height, width) by reflection at its bottom and right."""
    _, h, w = raw.shape
    if h == height and w == width:
        return raw
    padded: NDArray[Any] = np.pad(raw, ((0, 0), (0, height - h), (0, width - w)), mode="reflect")
    return padded


def _background(items: Iterable[T], depth: int) -> Iterator[T]:
    """Iterate ``items`` in a worker thread, ``depth`` items ahead of the consumer.

    Exceptions in the worker are re-raised in the consumer; leaving the loop early stops the worker.
    """
    # an item comes wrapped in a 1-tuple; None marks the end and an exception the worker's failure
    q: queue.Queue[tuple[T] | BaseException | None] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: tuple[T] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
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
        while True:
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
    (one tile of the padded scene when that is shorter). Other models keep the tiling's size."""
    padded = align_up(length, tiling.alignment)
    if padded <= tiling.tile:
        side = padded if declared else tiling.tile
        return side, side
    if declared:
        stride = (tiling.tile - tiling.overlap) // tiling.alignment * tiling.alignment
        tiles = -(-(padded - tiling.tile) // stride) + 1
        side = align_up(-(-(padded - tiling.overlap) // tiles) + tiling.overlap, tiling.alignment)
        return min(side, tiling.tile), padded
    return tiling.tile, padded


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
        self._weights: dict[tuple[bool, bool, bool, bool], NDArray[np.float32]] = {}

    def weights(self, y0: int, x0: int) -> NDArray[np.float32]:
        """2-D blending weights of the tile at (y0, x0). Only whether each side lies on the canvas
        border matters, so all tiles share at most nine arrays."""
        key = (y0 > 0, y0 + self.th < self.canvas_h, x0 > 0, x0 + self.tw < self.canvas_w)
        if key not in self._weights:
            overlap, dead = self.tiling.overlap, self.tiling.receptive_field
            wy = blend_weights(self.th, overlap, taper_start=key[0], taper_end=key[1], dead=dead)
            wx = blend_weights(self.tw, overlap, taper_start=key[2], taper_end=key[3], dead=dead)
            self._weights[key] = wy[:, None] * wx[None, :]
        return self._weights[key]


@dataclass(frozen=True)
class TileLayout:
    """How predict_rows cuts one scene: the tiling, each tile's side (shrunk to the scene, see
    _side), the strips and tiles per strip, and the tiles per batch."""

    tiling: Tiling
    tile_height: int
    tile_width: int
    canvas_width: int  # the scene's width padded to the model's alignment (the accumulators' width)
    strips: int
    columns: int
    batch_size: int

    @property
    def tiles(self) -> int:
        """Tiles over the whole scene."""
        return self.strips * self.columns

    @property
    def batches(self) -> int:
        """Model runs over the whole scene (each strip is cut into batches on its own)."""
        return self.strips * -(-self.columns // self.batch_size)


def tile_layout(model: TileModel, height: int, width: int, settings: TileSettings) -> TileLayout:
    """The TileLayout predict_rows uses for a ``height`` × ``width`` scene with ``settings``."""
    plan = _Plan(height, width, resolve_tiling(model.info, settings))
    batch_size = settings.batch_size or auto_batch_size(model, plan.th * plan.tw)
    return TileLayout(plan.tiling, plan.th, plan.tw, plan.canvas_w, len(plan.ys), len(plan.xs), batch_size)


def first_batch(model: TileModel, srcs: Sequence[rasterio.io.DatasetReader], settings: TileSettings,
                indexes: Sequence[Sequence[int] | None] | None = None) -> NDArray[np.float32]:
    """The normalized tiles of the first batch predict_rows runs over ``srcs`` (arguments as
    there), read as it reads them: the image's first strip is decoded across its full width."""
    plan = _Plan(srcs[0].height, srcs[0].width, resolve_tiling(model.info, settings))
    layout = tile_layout(model, srcs[0].height, srcs[0].width, settings)
    with closing(_read_batches(srcs, model, plan, layout.batch_size, indexes or [None] * len(srcs))) as batches:
        return next(batches).tiles


@contextmanager
def _row_readers(srcs: Sequence[rasterio.io.DatasetReader], rows: int,
                 indexes: Sequence[Sequence[int] | None]) -> Iterator[list[RowReader]]:
    """A RowReader per image for windows of up to ``rows`` rows, with one decoding pool for all."""
    keep_rows = buffer_bytes(srcs, rows, indexes) <= ROW_BUFFER_BUDGET
    threads = decode_threads() if keep_rows else 1
    with ExitStack() as stack:
        pool = None
        if threads > 1:  # one pool for every image: they are read one after another
            pool = stack.enter_context(ThreadPoolExecutor(threads, thread_name_prefix="euromine-decode"))
        yield [stack.enter_context(closing(RowReader(src, rows, keep_rows, pool, threads, bands)))
               for src, bands in zip(srcs, indexes, strict=True)]


@contextmanager
def decoded_once(srcs: Sequence[rasterio.io.DatasetReader], rows: int, indexes: Sequence[Sequence[int] | None],
                 consumers: int) -> Iterator[list[list[RowView]] | None]:
    """Views on ``srcs`` for ``consumers`` predict_rows streams (``views[image][stream]``, see its
    ``readers``) that decode each image once however the streams tile it, or None when the
    images are too wide to keep their rows in memory (each stream then reads its own windows).
    ``rows`` is the tallest tile of the streams (tile_layout), ``indexes`` the bands read per image."""
    with _row_readers(srcs, rows, indexes) as readers:
        yield [reader.views(consumers) for reader in readers] if all(r.keep_rows for r in readers) else None


def _read_batches(srcs: Sequence[rasterio.io.DatasetReader], model: TileModel, plan: _Plan, batch_size: int,
                  indexes: Sequence[Sequence[int] | None]) -> Generator[_Batch, None, None]:
    with _row_readers(srcs, plan.th, indexes) as readers:
        yield from _batches(srcs, readers, model, plan, batch_size)


def _batches(srcs: Sequence[rasterio.io.DatasetReader], readers: Sequence[RowReader | RowView], model: TileModel,
             plan: _Plan, batch_size: int) -> Generator[_Batch, None, None]:
    bands = len(model.info.bands)
    for strip, y0 in enumerate(plan.ys):
        rows = min(plan.th, plan.height - y0)
        for start in range(0, len(plan.xs), batch_size):
            x0s = plan.xs[start:start + batch_size]
            x_start, x_stop = x0s[0], x0s[-1] + plan.tw
            window = Window(x_start, y0, min(x_stop, plan.width) - x_start, rows)
            raws = [_reflect_to(reader.read(window), plan.th, x_stop - x_start) for reader in readers]
            valids = [valid_pixels(raw, src.nodata) for raw, src in zip(raws, srcs, strict=True)]
            # series: one map per year, each valid where its own year is; otherwise valid where all images are
            valid = np.stack(valids) if model.info.series else np.logical_and.reduce(valids)[None]
            tiles = np.zeros((len(x0s), bands * len(srcs), plan.th, plan.tw), np.float32)
            live = np.zeros(len(x0s), bool)
            for i, x0 in enumerate(x0s):
                columns = slice(x0 - x_start, x0 - x_start + plan.tw)
                live[i] = valid[:, :, columns].any()
                if not live[i]:  # all nodata: its probabilities are never used, the model is not run
                    continue
                for j, raw in enumerate(raws):
                    tile = tiles[i, j * bands:(j + 1) * bands]
                    normalize_into(tile, raw[:, :, columns], model.info.mean, model.info.std)
                    ok = valid[j if model.info.series else 0, :, columns]
                    if not ok.all():  # nodata enters the model as the band mean (zero once normalized)
                        tile[:, ~ok] = 0.0
            yield _Batch(strip, x0s, tiles, valid, x_start, live)


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
) -> Generator[RowBlock, None, None]:
    """Yield the scene's positive-class probabilities (mining; change for a change model) as
    consecutive row blocks, top to bottom.

    ``src`` is one image, for a change model the (before, after) images on one grid, and for a
    series model every year's image on one grid (blocks then hold one map per year). Pixels
    with nodata (or NaN) in any band are marked invalid - for footprint and change models in
    any image, for a series model in that year's image - and fed to the model as the band mean
    (zero after normalization) so they do not disturb their neighbours. ``indexes`` holds, per
    image, the 1-based bands that feed the model in its order (io.bands; None: every band).
    ``readers`` (from decoded_once, one per image) share the decoding with other streams over the
    same images; without them the stream decodes its images itself.
    """
    srcs = [src] if isinstance(src, rasterio.io.DatasetReader) else list(src)
    if model.info.series and len(srcs) < 2:
        raise ValueError(f"series model '{model.info.name}' needs at least two years, got {len(srcs)}")
    if not model.info.series and len(srcs) != model.info.images_per_sample:
        raise ValueError(f"model '{model.info.name}' takes {model.info.images_per_sample} image(s) per sample, "
                         f"got {len(srcs)}")
    plan = _Plan(srcs[0].height, srcs[0].width, resolve_tiling(model.info, settings))
    batch_size = settings.batch_size or auto_batch_size(model, plan.th * plan.tw)
    run = _Runner(model, batch_size, reporter)
    th, width = plan.th, plan.width
    maps = len(srcs) if model.info.series else 1
    acc = np.zeros((maps, th, plan.canvas_w), np.float32)
    wsum = np.zeros((th, plan.canvas_w), np.float32)
    valid = np.zeros((maps, th, plan.canvas_w), bool)
    batches_per_strip = -(-len(plan.xs) // batch_size)
    if readers is None:
        batches = _read_batches(srcs, model, plan, batch_size, indexes or [None] * len(srcs))
    else:
        batches = _batches(srcs, readers, model, plan, batch_size)
    for n, batch in enumerate(_background(batches, settings.prefetch)):
        reporter.check()
        y0 = plan.ys[batch.strip]
        valid[:, :, batch.x_start:batch.x_start + batch.valid.shape[-1]] = batch.valid
        if batch.live.all():
            probabilities = run(batch.tiles).reshape(len(batch.x0s), maps, th, plan.tw)
        else:  # tiles of nodata alone are not run: their probabilities are never used
            probabilities = np.zeros((len(batch.x0s), maps, th, plan.tw), np.float32)
            if batch.live.any():
                probabilities[batch.live] = run(batch.tiles[batch.live]).reshape(-1, maps, th, plan.tw)
        for p, x0 in zip(probabilities, batch.x0s, strict=True):
            w = plan.weights(y0, x0)
            acc[:, :, x0:x0 + plan.tw] += p * w
            wsum[:, x0:x0 + plan.tw] += w
        if (n + 1) % batches_per_strip:
            continue
        last = batch.strip + 1 == len(plan.ys)
        done = min(th, plan.height - y0) if last else plan.ys[batch.strip + 1] - y0
        probability = acc[:, :done, :width] / wsum[:done, :width]
        finished = valid[:, :done, :width].copy()
        yield RowBlock(y0, probability, finished) if model.info.series else RowBlock(y0, probability[0], finished[0])
        # rows from the next strip's start on were partly predicted by this strip: carry them over
        acc[:, :th - done] = acc[:, done:]
        wsum[:th - done] = wsum[done:]
        acc[:, th - done:] = 0.0
        wsum[th - done:] = 0.0
        reporter.progress(100.0 * (batch.strip + 1) / len(plan.ys))
