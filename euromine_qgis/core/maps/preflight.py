"""The pre-run check (DRY_RUN, ``euromine check``): what a mapping run would do with its images and
model, measured on the real session and one real batch, with nothing written.

For each image: its tiles, the band mapping and scaling verdict (io.bands, engine.scaling), CRS
units and pixel size in metres, and the nodata share of the scaling check's sample. For the run:
the estimated peak memory and time.

Memory model (bytes, the peak of the process's resident set, VmHWM on Linux):

- baseline: the process's resident set when the check starts: interpreter, libraries and the
  loaded model sessions. It is included, so the estimate compares with a process's measured peak;
  run the check in the process (or the kind of process) that will run the job.
- session: what each model's onnxruntime session grows by while it runs one real batch (its memory
  arena, intermediate activations, the output), measured.
- per inference stream (predict_rows and its writer), all of it over one panel's width
  (TileLayout.panel_width, at most about PANEL_BYTES' worth), never the scene's: the row buffer
  (io.row_reader.buffer_bytes while it fits ROW_BUFFER_BUDGET, else one window),
  PREFETCHED_BATCHES + ``prefetch`` batches of float32 tiles with their valid masks, the
  accumulators (two float32 and one bool row a tile high per map) with what tiles left of a panel
  edge add past it (a tile high and the tiles' overlap wide, per strip, held for the next panel),
  and ROW_BLOCKS_IN_FLIGHT finished blocks with what the writer makes of them
  (BLOCK_BYTES_PER_PIXEL, plus float64 pixel areas in a projected CRS), and GDAL's block cache
  holding the decoded blocks of its images (every band of the file) and outputs, at most
  GDAL_CACHE_BYTES (engine_env).
- sequential years map one after another (their peak is the largest year's); a series model maps
  every year in one stream, and change detection runs two footprint streams and the change
  model's at once (they add up).
- TEMPORAL_FILTER: its windowed pass holds FILTER_BYTES_PER_PIXEL_YEAR for each pixel of a window
  (io.masks.block_windows) and year; MIN_AREA_HA: sieving holds SIEVE_BYTES_PER_PIXEL for every
  pixel of one year. Both passes follow the mapping, so the peak is the largest phase.

Time model: the measured seconds of one steady batch × the batches of every stream, plus the
first batch's extra (onnxruntime's warm-up) once per model, plus the first strip's read time (over
the first panel) × the strips × the panels' worth of scene width (reading runs beside the model;
counting both keeps the estimate on the safe side on machines with few cores).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyproj import CRS

from ..engine.inference import (
    BLOCK_BYTES_PER_PIXEL,
    GDAL_CACHE_BYTES,
    ROW_BLOCKS_IN_FLIGHT,
    TileLayout,
    TileSettings,
    engine_env,
    first_batch,
    resolve_tiling,
    tile_layout,
)
from ..engine.scaling import ImageInput, check_scale, sample_image, sample_medians, scaling_problem
from ..io.bands import BandedImage
from ..io.coordinates import apply_affine
from ..io.masks import block_windows, window_rows
from ..io.raster import Grid, open_raster
from ..io.row_reader import ROW_BUFFER_BUDGET, buffer_bytes
from ..progress import Reporter
from .footprints import check_images, check_settings, common_image_grid
from .temporal_filter import filter_width

if TYPE_CHECKING:
    from ..engine.model import Model

MIB = 2**20
# Batches alive besides the prefetch queue's: the one being built or waiting to enter the queue,
# and the one the model runs.
PREFETCHED_BATCHES = 2
# Bytes per pixel and year of the temporal filter's window (temporal_filter.window_sums and
# filter_probability_rasters): float32 probability and smoothed values, bool valid and mining,
# int64 sort order, rank, start, stop and count, float64 packed values, cumulative sums, gathered
# sums and the where() results.
FILTER_BYTES_PER_PIXEL_YEAR = 4 + 4 + 1 + 1 + 5 * 8 + 6 * 8
# Bytes per pixel of sieving one year (min_area.sieve_footprint_file): the mask read, its valid
# mask, rasterio's in-memory copies of both for GDAL and the sieved output.
SIEVE_BYTES_PER_PIXEL = 5


def resident_bytes() -> int | None:
    """This process's resident set in bytes (Linux /proc, else psutil), or None where neither answers."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process(os.getpid()).memory_info().rss)


@dataclass(frozen=True)
class BatchProfile:
    """One model measured on one real batch: its tiles, the seconds to read the first strip and
    make the batch, the first run (with onnxruntime's warm-up) and a second, steady run, and what
    the process grew by during the first run (None where the resident set cannot be read)."""

    model: str
    provider: str
    device_name: str
    tiles: int
    read_seconds: float
    first_seconds: float
    seconds: float
    session_bytes: int | None


def profile_batch(model: Model, images: Sequence[BandedImage], settings: TileSettings) -> BatchProfile:
    """Read the first batch of ``images`` (one image; (before, after) for a change model; every
    year for a series model) as predict_rows reads it and run it through ``model``'s session twice."""
    with ExitStack() as stack:
        stack.enter_context(engine_env())
        srcs = [stack.enter_context(open_raster(i.path)) for i in images]
        start = time.perf_counter()
        tiles = first_batch(model, srcs, settings, [i.indexes for i in images])
        read = time.perf_counter() - start
    before = resident_bytes()
    start = time.perf_counter()
    out = model.positive_probability(tiles)
    first = time.perf_counter() - start
    after = resident_bytes()
    del out
    start = time.perf_counter()
    model.positive_probability(tiles)
    steady = time.perf_counter() - start
    grown = None if before is None or after is None else max(0, after - before)
    return BatchProfile(model.info.name, model.provider, model.device_name, len(tiles), read, first, steady, grown)


@dataclass(frozen=True)
class ImageCheck:
    """What the check found for one image."""

    year: int | None
    path: Path
    width: int
    height: int
    tiles: int
    tile_size: tuple[int, int]  # (rows, columns) of each tile
    bands: dict[str, int]  # model band -> 1-based band of the image
    band_choice: str  # how the bands were chosen (io.bands)
    scaling: str | None  # the scaling check's warning; None when the values look like the training data
    crs: str
    crs_units: str
    pixel_size_m: tuple[float, float]  # (x, y) on the ground at the scene centre
    nodata_share: float | None  # of the sampled pixels; None when the sample could not be read


@dataclass(frozen=True)
class MemoryEstimate:
    """The estimated peak resident memory of a run in bytes, by part (see the module's model).
    ``session`` is None where the process's resident set cannot be read (then left out)."""

    baseline: int
    session: int | None
    row_buffers: int
    batches: int
    accumulators: int
    row_blocks: int
    gdal_cache: int
    temporal_filter: int = 0
    min_area: int = 0

    @property
    def mapping(self) -> int:
        """What the mapping phase holds besides the baseline and the sessions."""
        return self.row_buffers + self.batches + self.accumulators + self.row_blocks + self.gdal_cache

    @property
    def peak(self) -> int:
        """Baseline, sessions and the largest phase (mapping, temporal filter or sieving)."""
        return self.baseline + (self.session or 0) + max(self.mapping, self.temporal_filter, self.min_area)


@dataclass(frozen=True)
class RunCheck:
    """The pre-run check's report: every image, the run's tiling, memory and time, and the
    profiles its estimates come from."""

    images: list[ImageCheck]
    tiling: str
    batch_size: int
    batches: int
    memory: MemoryEstimate
    seconds: float
    profiles: list[BatchProfile]
    temporal_filter: str
    min_area_ha: float
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """The scaling warnings, one per image that has one."""
        return [f"{i.path}: {i.scaling}" for i in self.images if i.scaling]

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able values (paths as text), with the peak memory in MiB."""
        report = asdict(self)
        for image in report["images"]:
            image["path"] = str(image["path"])
        report["memory"]["peak"] = self.memory.peak
        report["peak_memory_mib"] = round(self.memory.peak / MIB, 1)
        return report

    def lines(self) -> list[str]:
        """The report as log lines."""
        out = [f"Dry run: nothing was written. {self.tiling}; {self.batch_size} tile(s) per batch"]
        for p in self.profiles:
            out.append(f"Model {p.model} on {p.provider} ({p.device_name}): one batch of {p.tiles} tile(s) "
                       f"{p.seconds:.3f} s (first {p.first_seconds:.3f} s), reading its strip {p.read_seconds:.3f} s")
        for i in self.images:
            label = f"{i.year}" if i.year is not None else i.path.name
            nodata = "n/a" if i.nodata_share is None else f"{100 * i.nodata_share:.1f} %"
            picked = ", ".join(f"{band}={index}" for band, index in i.bands.items())
            out.append(f"{label}: {i.path.name}, {i.width} x {i.height} px, {i.tiles} tile(s) of "
                       f"{i.tile_size[0]} x {i.tile_size[1]} px; {i.crs} in {i.crs_units}, pixel "
                       f"{i.pixel_size_m[0]:.2f} x {i.pixel_size_m[1]:.2f} m; nodata {nodata}")
            scaling = i.scaling or "values look like the training data"
            out.append(f"{label}: bands {i.band_choice}: {picked}; scaling: {scaling}")
        m = self.memory
        session = "not measured" if m.session is None else f"{m.session / MIB:.0f} MiB"
        out.append(f"Estimated peak memory {m.peak / MIB:.0f} MiB: process before the run {m.baseline / MIB:.0f} MiB, "
                   f"onnxruntime running a batch {session}, row buffers {m.row_buffers / MIB:.0f} MiB, batches "
                   f"{m.batches / MIB:.0f} MiB, accumulators {m.accumulators / MIB:.0f} MiB, row blocks "
                   f"{m.row_blocks / MIB:.0f} MiB, GDAL cache {m.gdal_cache / MIB:.0f} MiB"
                   + (f", temporal filter {self.temporal_filter} {m.temporal_filter / MIB:.0f} MiB"
                      if m.temporal_filter else "")
                   + (f", MIN_AREA_HA {self.min_area_ha:g} {m.min_area / MIB:.0f} MiB" if m.min_area else ""))
        out.append(f"Estimated time {self.seconds:.1f} s for {self.batches} batch(es)")
        return out + self.notes


def pixel_size_m(grid: Grid) -> tuple[float, float]:
    """The (x, y) size of a pixel in metres: in the CRS's linear units for a projected CRS, on
    the ellipsoid at the scene's centre (pyproj Geod) for a geographic one."""
    t = grid.transform
    assert grid.crs is not None  # check_images refuses an image without CRS
    if not grid.crs.is_geographic:
        factor = grid.crs.linear_units_factor[1]
        return math.hypot(t.a, t.d) * factor, math.hypot(t.b, t.e) * factor
    geod = CRS.from_wkt(grid.crs.to_wkt()).get_geod()
    assert geod is not None  # a geographic CRS has an ellipsoid
    lon, lat = apply_affine(t, grid.width / 2, grid.height / 2)
    east = geod.inv(lon, lat, *apply_affine(t, grid.width / 2 + 1, grid.height / 2))[2]
    north = geod.inv(lon, lat, *apply_affine(t, grid.width / 2, grid.height / 2 + 1))[2]
    return east, north


def _crs_units(grid: Grid) -> str:
    assert grid.crs is not None  # check_images refuses an image without CRS
    return str(grid.crs.units_factor[0] if grid.crs.is_geographic else grid.crs.linear_units_factor[0])


def _image_check(year: int | None, image: BandedImage, layout: TileLayout, model: Model, scale: float) -> ImageCheck:
    sample = sample_image(image)
    medians = None if sample is None else sample_medians(*sample)
    grid = image.grid
    assert grid.crs is not None  # check_images refuses an image without CRS
    return ImageCheck(
        year=year, path=image.path, width=grid.width, height=grid.height, tiles=layout.tiles,
        tile_size=(layout.tile_height, layout.tile_width),
        bands=dict(zip(model.info.bands, image.indexes, strict=True)), band_choice=image.how,
        scaling=None if medians is None else scaling_problem(medians, model.info, scale),
        crs=grid.crs.to_string(), crs_units=_crs_units(grid), pixel_size_m=pixel_size_m(grid),
        nodata_share=None if sample is None else float(1.0 - sample[1].mean()),
    )


@dataclass(frozen=True)
class _Stream:
    """One predict_rows pass and its writer: a model over images (one, a change pair, or a series)."""

    model: Model
    images: tuple[BandedImage, ...]
    layout: TileLayout
    output_bytes_per_pixel: int  # of the outputs its writer makes (held by GDAL's cache)


def _stream_memory(stream: _Stream, prefetch: int) -> dict[str, int]:
    layout, images = stream.layout, stream.images
    maps = len(images) if stream.model.info.series else 1
    indexes = [i.indexes for i in images]
    with ExitStack() as stack:
        srcs = [stack.enter_context(open_raster(i.path)) for i in images]
        rows = buffer_bytes(srcs, layout.tile_height, indexes, layout.panel_width)
    bands = sum(len(ix) for ix in indexes)
    if rows > ROW_BUFFER_BUDGET:  # read window by window
        rows = bands * layout.tile_height * layout.panel_width * np.dtype(images[0].dtype).itemsize
    tiles = layout.batch_size * len(stream.model.info.bands) * len(images) * layout.tile_height * layout.tile_width * 4
    batch = tiles + maps * layout.tile_height * layout.panel_width
    grid = images[0].grid
    block_pixels = maps * layout.tile_height * layout.panel_width
    geographic = grid.crs is None or grid.crs.is_geographic
    areas = 0 if geographic else layout.tile_height * layout.panel_width * 8  # AreaTally's pixel areas
    # what the tiles of one panel add past its right edge, for every strip, while the next panel uses
    # the previous one's (panels cut on tile starts: the tiles' overlap wide)
    carried = 0 if len(layout.panels) <= 2 else \
        2 * maps * 4 * layout.tile_height * layout.tiling.overlap * layout.strips
    # GDAL caches every decoded block of the inputs (all their bands) and of the outputs while they are open
    cached = sum(i.count * np.dtype(i.dtype).itemsize for i in images) + stream.output_bytes_per_pixel * maps
    return {
        "row_buffers": rows,
        "batches": (prefetch + PREFETCHED_BATCHES) * batch,
        "accumulators": (maps * (4 + 1) + 4) * layout.tile_height * layout.panel_width + carried,  # acc, valid; wsum
        "row_blocks": ROW_BLOCKS_IN_FLIGHT * (block_pixels * BLOCK_BYTES_PER_PIXEL + areas),
        "gdal_cache": min(GDAL_CACHE_BYTES, cached * grid.width * grid.height),
    }


def _sum_parts(parts: Sequence[dict[str, int]]) -> dict[str, int]:
    return {key: sum(p[key] for p in parts) for key in parts[0]}


def _max_parts(parts: Sequence[dict[str, int]]) -> dict[str, int]:
    """The parts of the phase with the largest total (sequential phases do not add up)."""
    return max(parts, key=lambda p: sum(p.values()))


def check_run(
    images: Sequence[tuple[int | None, Path]],
    model: Model,
    settings: TileSettings,
    image_input: ImageInput,
    temporal_filter: str,
    min_area_ha: float,
    probabilities: str | None = None,
    change_model: Model | None = None,
    *,
    threshold: float,
    change: bool = False,
) -> RunCheck:
    """What mapping ``images`` with ``model`` would do, without writing anything.

    The arguments are those of ``maps.footprints.map_footprints`` (images as (year, path) pairs,
    the footprint model, TileSettings, ImageInput with the SCALE the model was loaded with, the
    temporal filter, MIN_AREA_HA, the probability rasters asked for, THRESHOLD) or, with
    ``change`` (implied by a ``change_model``), those of ``maps.bitemporal.detect_change``: the
    (before, after) images, the footprint model and the change model, if any. Inputs are checked as the
    run checks them (InputError naming the first bad one). Each model runs one real batch of the
    first image(s) on its session (seconds to minutes for a large model on a CPU). Returns the
    report; ``RunCheck.lines()`` renders it for a log, ``RunCheck.as_dict()`` as plain values.
    """
    check_settings(threshold, min_area_ha, temporal_filter, probabilities)
    check_scale(image_input.scale)
    width = filter_width(temporal_filter)
    change = change or change_model is not None
    if change and len(images) != 2:
        raise ValueError(f"change detection takes two images (before, after), not {len(images)}")
    infos = check_images(images, model, image_input.bands)
    resolve_tiling(model.info, settings)  # TILE_OVERLAP checked where the run checks it, before any batch
    baseline = resident_bytes() or 0
    if change or width > 1 or model.info.series:
        common_image_grid(infos)
    layouts = [_layout(model, (i,), settings) for i in infos]
    streams = _streams(infos, model, layouts, change, change_model, image_input, settings, width, probabilities)
    profiles = {}
    for stream in streams:  # one real batch per model, on its first stream
        if stream.model.info.name not in profiles:
            profiles[stream.model.info.name] = profile_batch(stream.model, stream.images, settings)
    parts = [_stream_memory(s, settings.prefetch) for s in streams]
    mapping = _sum_parts(parts) if change or model.info.series else _max_parts(parts)
    grid = infos[0].grid
    filter_bytes = 0
    if width > 1:
        window = next(block_windows(grid, window_rows(grid, max(1, *(_block_rows(i) for i in infos))), Reporter()))
        filter_bytes = FILTER_BYTES_PER_PIXEL_YEAR * window.height * window.width * len(infos)
    sieve_bytes = max(SIEVE_BYTES_PER_PIXEL * i.grid.width * i.grid.height for i in infos) if min_area_ha > 0 else 0
    sessions = [p.session_bytes for p in profiles.values()]
    measured = [s for s in sessions if s is not None]
    memory = MemoryEstimate(baseline, sum(measured) if len(measured) == len(sessions) else None, **mapping,
                            temporal_filter=filter_bytes, min_area=sieve_bytes)
    seconds = 0.0
    for stream in streams:
        p = profiles[stream.model.info.name]
        # the first strip of the first panel was read: the strips read as much over every panel
        reads = stream.layout.strips * stream.layout.canvas_width / stream.layout.panel_width
        seconds += stream.layout.batches * p.seconds + reads * p.read_seconds
    seconds += sum(p.first_seconds - p.seconds for p in profiles.values())
    first = layouts[0]
    notes = [] if memory.session is not None else [
        ("The session's own memory was not measured: this system reports no resident set size "
         "(install psutil); the peak memory leaves it out")]
    return RunCheck(
        images=[_image_check(year, info, layout, model, image_input.scale)
                for (year, _), info, layout in zip(images, infos, layouts, strict=True)],
        tiling=first.tiling.description, batch_size=first.batch_size,
        batches=sum(s.layout.batches for s in streams), memory=memory, seconds=seconds,
        profiles=list(profiles.values()), temporal_filter=temporal_filter, min_area_ha=min_area_ha, notes=notes,
    )


def _layout(model: Model, images: Sequence[BandedImage], settings: TileSettings) -> TileLayout:
    """How predict_rows cuts the scene of ``images`` (one image, a change pair or a series) for ``model``."""
    with ExitStack() as stack:
        srcs = [stack.enter_context(open_raster(i.path)) for i in images]
        grid = images[0].grid
        return tile_layout(model, grid.height, grid.width, settings, srcs, [i.indexes for i in images])


def _block_rows(image: BandedImage) -> int:
    """Rows of one block of ``image``'s file (the windowed passes read whole blocks)."""
    with open_raster(image.path) as src:
        return int(src.block_shapes[0][0])


def _streams(infos: Sequence[BandedImage], model: Model, layouts: Sequence[TileLayout], change: bool,
             change_model: Model | None, image_input: ImageInput, settings: TileSettings, width: int,
             probabilities: str | None) -> list[_Stream]:
    """The predict_rows passes of the run, in the order it makes them."""
    # the outputs each stream's writer makes: the footprint byte, the probability raster (float32
    # into the work folder with a temporal filter)
    probability_bytes = 4 if width > 1 else {None: 0, "uint8": 2, "float32": 4}[probabilities]
    output = 1 + probability_bytes
    if change:
        streams = [_Stream(model, (info,), layout, 0) for info, layout in zip(infos, layouts, strict=True)]
        if change_model is not None:
            pair = tuple(check_images([(None, i.path) for i in infos], change_model, image_input.bands))
            layout = _layout(change_model, pair, settings)
            streams.append(_Stream(change_model, pair, layout, 0))
        streams[-1] = _Stream(streams[-1].model, streams[-1].images, streams[-1].layout, 1)  # the change raster
        return streams
    if model.info.series:
        return [_Stream(model, tuple(infos), _layout(model, infos, settings), output)]
    return [_Stream(model, (info,), layout, output) for info, layout in zip(infos, layouts, strict=True)]
