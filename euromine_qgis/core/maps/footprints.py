"""Annual mining footprint maps: one uint8 raster per year on the input grid, with its area.

With a temporal filter (``maps.temporal_filter``) every year is first mapped as usual (float32
probabilities) into a hidden temporary folder beside the outputs, then one pass of row windows
holding all years filters them and writes the final rasters. The temporary folder is removed
however the run ends; outputs appear under their names only when all are complete.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from ..engine.inference import RowBlock, TileSettings, engine_env, predict_rows, resolve_tiling
from ..engine.scaling import ImageInput, check_inputs
from ..errors import InputError
from ..executor import LOCAL, Executor
from ..io.area import AreaTally
from ..io.bands import BandedImage, BandItem, banded_image
from ..io.folder_lock import folder_lock
from ..io.grids import common_grid
from ..io.outputs import atomic_outputs, check_not_inputs, check_output_folder, remove_partials
from ..io.raster import (
    Grid,
    ImageInfo,
    footprint_profile,
    footprint_values,
    open_raster,
    probability_profile,
    write_probability,
)
from ..progress import Reporter
from .min_area import check_min_area, min_area_pixels, sieve_footprint_file
from .temporal_filter import filter_probability_rasters, filter_width

if TYPE_CHECKING:
    from ..engine.model import Model

PROBABILITY_TYPES = ("uint8", "float32")
TEMPORAL_WORK, MIN_AREA_WORK = ".temporal-", ".min-area-"  # prefixes of the hidden work folders in the output folder
MAPPING_SHARE = 90.0  # percent of the progress bar spent mapping the years when a temporal filter follows


@dataclass(frozen=True)
class YearFootprint:
    """The footprint map of one year and what it measures."""

    year: int
    image: Path
    footprint: Path
    mining_ha: float
    mining_pixels: int
    valid_pixels: int
    probability: Path | None = None


@dataclass(frozen=True)
class YearTargets:
    """Output paths of one year."""

    footprint: Path
    probability: Path | None = None
    probability_dtype: str = "uint8"

    @property
    def paths(self) -> list[Path]:
        """The files written for the year."""
        return [self.footprint] + ([self.probability] if self.probability else [])


def footprint_name(year: int) -> str:
    """File name of a year's footprint raster."""
    return f"footprint_{year}.tif"


def probability_name(year: int) -> str:
    """File name of a year's mining-probability raster."""
    return f"probability_{year}.tif"


def check_threshold(threshold: float) -> None:
    """InputError unless THRESHOLD lies strictly between 0 and 1."""
    if not 0.0 < threshold < 1.0:
        raise InputError(f"THRESHOLD {threshold} must lie strictly between 0 and 1")


def check_settings(threshold: float, min_area_ha: float, temporal_filter: str,
                   probabilities: str | None = None) -> None:
    """InputError naming the first of THRESHOLD, MIN_AREA_HA, TEMPORAL_FILTER and the probability
    type that map_footprints cannot take, before any image is read; every run and check calls this."""
    check_threshold(threshold)
    check_min_area(min_area_ha)
    filter_width(temporal_filter)
    if probabilities is not None and probabilities not in PROBABILITY_TYPES:
        raise InputError(f"probabilities must be one of {', '.join(PROBABILITY_TYPES)}, not '{probabilities}'")


def check_images(images: Sequence[tuple[int | None, Path]], model: Model,
                 input_bands: Sequence[BandItem] | None = None) -> list[BandedImage]:
    """Inspect every image and find the bands that feed the model (io.bands, with INPUT_BANDS
    ``input_bands``) before any work starts; raise InputError naming the first bad one."""
    infos = []
    for _year, path in images:
        info = banded_image(path, model.info.bands, input_bands, model.info.name)
        if info.grid.crs is None:
            raise InputError(
                f"{path}: image has no CRS, so its footprint cannot be placed or measured; "
                "assign its CRS first (Raster > Projections > Assign Projection)"
            )
        infos.append(info)
    return infos


def map_footprints(
    images: Sequence[tuple[int, Path]],
    model: Model,
    out_dir: Path,
    threshold: float,
    settings: TileSettings,
    reporter: Reporter = Reporter(),
    probabilities: str | None = None,
    *,
    temporal_filter: str,
    min_area_ha: float,
    image_input: ImageInput,
    executor: Executor = LOCAL,
) -> list[YearFootprint]:
    """Map the mining footprint of each (year, image) into ``out_dir/footprint_{year}.tif``.

    Outputs keep each input's grid exactly (CRS, transform, size); values are 1 mining,
    0 not mining, 255 nodata (see ``io.valid``). With ``probabilities`` ("uint8" or "float32")
    the mining probability is written too, as ``probability_{year}.tif``. ``temporal_filter``
    (one of ``maps.temporal_filter.TEMPORAL_FILTERS``) smooths each pixel's probabilities over
    the years before thresholding; every image must then share one grid. Each year's files
    appear only when complete. Returns the mapped area per year (geodesic for geographic CRS).
    ``min_area_ha`` > 0 removes mining patches and holes smaller than that many hectares from the
    footprints (``maps.min_area``, after any temporal filter); probabilities are left as mapped.
    ``image_input`` says which bands feed the model (io.bands) and the SCALE the model was loaded
    with; images whose values do not look like the model's training data are warned about.
    """
    check_settings(threshold, min_area_ha, temporal_filter, probabilities)
    together = filter_width(temporal_filter) > 1 or model.info.series
    infos = check_images(images, model, image_input.bands)
    if together:
        common_image_grid(infos)
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    targets = {year: year_targets(out_dir, year, probabilities) for year, _ in images}
    check_not_inputs([p for t in targets.values() for p in t.paths], [p for _, p in images],
                     "choose another OUTPUT_FOLDER", "an input image")

    reporter.info(f"Model: {model.description}; {resolve_tiling(model.info, settings).description}")
    check_inputs(infos, model.info, image_input.scale, reporter)
    years = list(zip(images, infos, targets.values(), strict=True))
    groups = [years] if together else [[year] for year in years]
    tasks = [_YearsTask(tuple(g[0] for g in group), tuple(g[1] for g in group), tuple(g[2] for g in group),
                        threshold, settings, temporal_filter, min_area_ha) for group in groups]
    results: dict[int, YearFootprint] = {}

    def keep(_task: _YearsTask, mapped: list[YearFootprint]) -> None:
        results.update({m.year: m for m in mapped})

    with folder_lock(out_dir, "mapfootprints", reporter):
        try:
            executor.run(tasks, model, reporter, keep)
        finally:  # what the tasks of a killed process (a Dask worker) left
            remove_partials([p for t in targets.values() for p in t.paths])
            for work in (TEMPORAL_WORK, MIN_AREA_WORK):
                for leftover in out_dir.glob(f"{work}*"):
                    shutil.rmtree(leftover, ignore_errors=True)
    return [results[year] for year, _ in images]


@dataclass(frozen=True)
class _YearsTask:
    """Years mapped onto their targets: one year, or every year when they depend on each other (a
    temporal filter, a series model)."""

    images: tuple[tuple[int, Path], ...]
    infos: tuple[BandedImage, ...]
    targets: tuple[YearTargets, ...]
    threshold: float
    settings: TileSettings
    temporal_filter: str
    min_area_ha: float

    @property
    def label(self) -> str:
        return ", ".join(str(year) for year, _ in self.images)

    def __call__(self, model: Model, reporter: Reporter) -> list[YearFootprint]:
        """The years' footprints (files appear only when complete)."""
        mapper = _Mapper(model, self.threshold, self.settings, reporter)
        if self.min_area_ha > 0:
            return _map_then_sieve(self.images, self.infos, self.targets, mapper, self.temporal_filter,
                                   self.min_area_ha)
        if filter_width(self.temporal_filter) > 1:
            return _map_filtered(self.images, self.infos, self.targets, mapper, self.temporal_filter)
        return _map_years(self.images, self.infos, self.targets, mapper)


def year_targets(out_dir: Path, year: int, probabilities: str | None) -> YearTargets:
    """Output paths of ``year`` in ``out_dir`` (the probability raster only when asked for)."""
    return YearTargets(out_dir / footprint_name(year), out_dir / probability_name(year) if probabilities else None,
                       probabilities or "uint8")


@dataclass(frozen=True)
class _Mapper:
    """What every year of one run is mapped with: the model, its threshold and tiling, the reporter."""

    model: Model
    threshold: float
    settings: TileSettings
    reporter: Reporter

    def reporting(self, reporter: Reporter) -> _Mapper:
        """The same mapping, reporting to ``reporter`` (a part of the run's progress)."""
        return replace(self, reporter=reporter)


Images = Sequence[tuple[int, Path]]  # (year, image file), one per year


def _map_years(images: Images, infos: Sequence[BandedImage], targets: Sequence[YearTargets],
               mapper: _Mapper) -> list[YearFootprint]:
    """Every year mapped without a temporal filter: year by year, or all at once by a series model."""
    if mapper.model.info.series:
        return _map_jointly(images, infos, targets, mapper)
    results = []
    for n, ((year, path), info, target) in enumerate(zip(images, infos, targets, strict=True)):
        mapper.reporter.check()
        step = mapper.reporter.sub_range(100.0 * n / len(images), 100.0 * (n + 1) / len(images))
        results.append(_map_one_year(year, path, info, target, mapper.reporting(step)))
    return results


def _map_filtered(images: Images, infos: Sequence[BandedImage], targets: Sequence[YearTargets], mapper: _Mapper,
                  temporal_filter: str) -> list[YearFootprint]:
    """Map every year's float32 probabilities into a hidden work folder, then filter them over
    the years into ``targets`` (see the module docstring)."""
    reporter = mapper.reporter
    grid = common_image_grid(infos)
    images, infos, targets = zip(*sorted(zip(images, infos, targets, strict=True), key=lambda item: item[0][0]),
                                 strict=True)
    out_dir = targets[0].footprint.parent
    work = Path(tempfile.mkdtemp(prefix=TEMPORAL_WORK, dir=out_dir))
    try:
        scratch = [year_targets(work, year, "float32") for year, _ in images]
        mapped = _map_years(images, infos, scratch, mapper.reporting(reporter.sub_range(0.0, MAPPING_SHARE)))
        width = filter_width(temporal_filter)
        reporter.info(f"Temporal filter {temporal_filter}: {width}-year windows over the valid years of each pixel")
        probability_files = [p for t in targets if (p := t.probability)]
        areas = filter_probability_rasters([p for m in mapped if (p := m.probability)], grid, width, mapper.threshold,
                                           [t.footprint for t in targets], probability_files,
                                           targets[0].probability_dtype, reporter.sub_range(MAPPING_SHARE, 100.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [YearFootprint(year, image, t.footprint, ha, mining, valid, t.probability)
            for (year, image), t, (ha, mining, valid) in zip(images, targets, areas, strict=True)]


def _map_then_sieve(images: Images, infos: Sequence[BandedImage], targets: Sequence[YearTargets], mapper: _Mapper,
                    temporal_filter: str, min_area_ha: float) -> list[YearFootprint]:
    """Map the task's years as without MIN_AREA_HA into a hidden work folder, then sieve each footprint
    into its target (``maps.min_area``); the task's years appear together when all are done."""
    out_dir = targets[0].footprint.parent
    work = Path(tempfile.mkdtemp(prefix=MIN_AREA_WORK, dir=out_dir))
    try:
        scratch = [year_targets(work, year, t.probability_dtype if t.probability else None)
                   for (year, _), t in zip(images, targets, strict=True)]
        if filter_width(temporal_filter) > 1:
            mapped = _map_filtered(images, infos, scratch, mapper, temporal_filter)
        else:
            mapped = _map_years(images, infos, scratch, mapper)
        by_year = {year: (info.grid, target) for (year, _), info, target in zip(images, infos, targets, strict=True)}
        results = []
        with atomic_outputs([p for t in targets for p in t.paths]) as temps:
            temp_of = dict(zip([p for t in targets for p in t.paths], temps, strict=True))
            for m in mapped:
                grid, target = by_year[m.year]
                pixels = min_area_pixels(grid, min_area_ha)
                mapper.reporter.info(f"{m.year}: minimum mapping unit {min_area_ha:g} ha = {pixels} pixels; smaller "
                              "patches and holes removed (4-connected)")
                os.replace(m.footprint, temp_of[target.footprint])
                ha, mining = sieve_footprint_file(temp_of[target.footprint], grid, pixels)
                if m.probability and target.probability:
                    os.replace(m.probability, temp_of[target.probability])
                results.append(replace(m, footprint=target.footprint, probability=target.probability,
                                       mining_ha=ha, mining_pixels=mining))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def common_image_grid(infos: Sequence[ImageInfo]) -> Grid:
    """The grid every image lies on; InputError naming two images that differ."""
    return common_grid(infos, "images of different years lie on different grids",
                       "a series model or temporal filter needs every year on one grid", resampling="bilinear")


class _YearWriter:
    """Writes one year's blocks (footprint, optional probability) and sums its mapped area."""

    def __init__(self, stack: ExitStack, temps: Sequence[Path], grid: Grid, targets: YearTargets,
                 threshold: float) -> None:
        self.grid, self.threshold = grid, threshold
        self.dst = stack.enter_context(rasterio.open(temps[0], "w", **footprint_profile(grid)))
        self.prob_dst = None
        if targets.probability:
            self.prob_dst = stack.enter_context(
                rasterio.open(temps[1], "w", **probability_profile(grid, targets.probability_dtype)))
        self.area = AreaTally(grid)
        self.mining, self.valid = 0, 0

    def __call__(self, window: Window, probability: NDArray[np.float32], valid: NDArray[np.bool_]) -> None:
        mask = footprint_values(probability >= self.threshold, valid)
        self.dst.write(mask, 1, window=window)
        if self.prob_dst is not None:
            write_probability(self.prob_dst, probability, valid, window)
        self.area.add("mining", window.row_off, mask == 1, window.col_off)
        self.mining += int(np.count_nonzero(mask == 1))
        self.valid += int(np.count_nonzero(valid))

    def result(self, year: int, image: Path, targets: YearTargets) -> YearFootprint:
        return YearFootprint(year, image, targets.footprint, float(self.area["mining"]), self.mining, self.valid,
                             targets.probability)


def _write_behind(stack: ExitStack, blocks: Generator[RowBlock, None, None], write: Callable[[RowBlock], None]) -> None:
    """Hand every block to ``write`` in a writer thread (compression overlaps the next strip's
    inference), with at most one block in flight so memory stays bounded."""
    writer = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="euromine-writer"))
    pending: Future[None] | None = None
    for block in stack.enter_context(closing(blocks)):
        if pending is not None:
            pending.result()
        pending = writer.submit(write, block)
    if pending is not None:
        pending.result()


def _map_one_year(year: int, path: Path, info: BandedImage, targets: YearTargets, mapper: _Mapper) -> YearFootprint:
    with atomic_outputs(targets.paths) as temps, ExitStack() as stack:
        stack.enter_context(engine_env())
        src = stack.enter_context(open_raster(path))
        year_writer = _YearWriter(stack, temps, info.grid, targets, mapper.threshold)

        def write(block: RowBlock) -> None:
            year_writer(block.window, block.probability, block.valid)

        blocks = predict_rows(mapper.model, src, mapper.settings, mapper.reporter, [info.indexes])
        _write_behind(stack, blocks, write)
    return year_writer.result(year, path, targets)


def _map_jointly(images: Images, infos: Sequence[BandedImage], targets: Sequence[YearTargets],
                 mapper: _Mapper) -> list[YearFootprint]:
    """A series model maps every year in one pass: each tile holds all years' images."""
    mapper.reporter.info(f"Series model: {len(images)} years mapped together")
    grid = common_image_grid(infos)
    outputs = [t.paths for t in targets]
    with atomic_outputs([p for group in outputs for p in group]) as temps, ExitStack() as stack:
        stack.enter_context(engine_env())
        srcs = [stack.enter_context(open_raster(path)) for _, path in images]
        writers, used = [], 0
        for target, group in zip(targets, outputs, strict=True):
            writers.append(_YearWriter(stack, temps[used:used + len(group)], grid, target, mapper.threshold))
            used += len(group)

        def write(block: RowBlock) -> None:
            for t, year_writer in enumerate(writers):
                year_writer(block.window, block.probability[t], block.valid[t])

        blocks = predict_rows(mapper.model, srcs, mapper.settings, mapper.reporter, [i.indexes for i in infos])
        _write_behind(stack, blocks, write)
    return [w.result(year, path, t) for w, (year, path), t in zip(writers, images, targets, strict=True)]
