"""Annual mining footprint maps: one uint8 raster per year on the input grid, with its area."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from .area import row_pixel_areas_m2
from .errors import InputError, OutputError
from .inference import RowBlock, TileSettings, engine_env, predict_rows
from .masks import same_place
from .model import Model
from .progress import Reporter
from .raster import (
    FOOTPRINT_NODATA,
    Grid,
    ImageInfo,
    align_hint,
    atomic_outputs,
    check_output_folder,
    footprint_profile,
    grid_differences,
    inspect_image,
    probability_profile,
    write_probability,
)


PROBABILITY_TYPES = ("uint8", "float32")


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


def footprint_name(year: int) -> str:
    """File name of a year's footprint raster."""
    return f"footprint_{year}.tif"


def probability_name(year: int) -> str:
    """File name of a year's mining-probability raster."""
    return f"probability_{year}.tif"


def check_images(images: Sequence[tuple[int, Path]], model: Model) -> list[ImageInfo]:
    """Inspect every image before any work starts; raise InputError naming the first bad one."""
    infos = []
    for _year, path in images:
        info = inspect_image(path)
        if info.count != len(model.info.bands):
            raise InputError(
                f"{path}: image has {info.count} band(s) but model '{model.info.name}' expects "
                f"{len(model.info.bands)} ({', '.join(model.info.bands)})"
            )
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
    threshold: float = 0.5,
    settings: TileSettings = TileSettings(),
    reporter: Reporter = Reporter(),
    probabilities: str | None = None,
) -> list[YearFootprint]:
    """Map the mining footprint of each (year, image) into ``out_dir/footprint_{year}.tif``.

    Outputs keep each input's grid exactly (CRS, transform, size); values are 1 mining,
    0 not mining, 255 nodata (any input band nodata). With ``probabilities`` ("uint8" or
    "float32") the mining probability is written too, as ``probability_{year}.tif``. Each year's
    files appear only when complete. Returns the mapped area per year (geodesic for geographic CRS).
    """
    if not 0.0 < threshold < 1.0:
        raise InputError(f"THRESHOLD {threshold} must lie strictly between 0 and 1")
    if probabilities is not None and probabilities not in PROBABILITY_TYPES:
        raise InputError(f"probabilities must be one of {', '.join(PROBABILITY_TYPES)}, not '{probabilities}'")
    infos = check_images(images, model)
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    inputs = {p.resolve() for _, p in images}
    targets = [
        YearTargets(out_dir / footprint_name(year), out_dir / probability_name(year) if probabilities else None,
                    probabilities or "uint8")
        for year, _ in images
    ]
    for target in targets:
        for path in (target.footprint, target.probability):
            if path is not None and path.resolve() in inputs:
                raise OutputError(f"{path}: output would overwrite an input image; choose another OUTPUT_FOLDER")

    reporter.info(f"Model: {model.description}")
    if model.info.series:
        return _map_jointly(images, common_image_grid(infos), targets, model, threshold, settings, reporter)
    results = []
    for n, ((year, path), info, target) in enumerate(zip(images, infos, targets)):
        reporter.check()
        step = Reporter(
            progress=lambda p, n=n: reporter.progress((n + p / 100.0) * 100.0 / len(images)),
            info=reporter.info,
            is_canceled=reporter.is_canceled,
        )
        results.append(_map_one_year(year, path, info, target, model, threshold, settings, step))
    return results


def common_image_grid(infos: Sequence[ImageInfo]) -> Grid:
    """The grid every image lies on; InputError naming two images that differ."""
    base = infos[0]
    for info in infos[1:]:
        if info.grid.shape != base.grid.shape or not same_place(info.grid, base.grid):
            raise InputError(f"{info.path} and {base.path}: images of different years lie on different grids "
                             f"({grid_differences(info.grid, base.grid)}); a series model or temporal filter "
                             "needs every year on one grid: "
                             + align_hint(info.path, info.grid, base.path, base.grid, resampling="bilinear"))
    return base.grid


class _YearWriter:
    """Writes one year's row blocks (footprint, optional probability) and sums its mapped area."""

    def __init__(self, stack: ExitStack, temps: Sequence[Path], grid: Grid, targets: YearTargets, threshold: float) -> None:
        self.grid, self.threshold = grid, threshold
        self.dst = stack.enter_context(rasterio.open(temps[0], "w", **footprint_profile(grid)))
        self.prob_dst = None
        if targets.probability:
            self.prob_dst = stack.enter_context(
                rasterio.open(temps[1], "w", **probability_profile(grid, targets.probability_dtype)))
        self.row_areas = row_pixel_areas_m2(grid)
        self.m2, self.mining, self.valid = 0.0, 0, 0

    def __call__(self, row0: int, probability: np.ndarray, valid: np.ndarray) -> None:
        mask = (probability >= self.threshold).astype(np.uint8)
        mask[~valid] = FOOTPRINT_NODATA
        window = Window(0, row0, self.grid.width, mask.shape[0])
        self.dst.write(mask, 1, window=window)
        if self.prob_dst is not None:
            write_probability(self.prob_dst, probability, valid, window)
        per_row = (mask == 1).sum(axis=1)
        self.m2 += float(per_row @ self.row_areas[row0:row0 + mask.shape[0]])
        self.mining += int(per_row.sum())
        self.valid += int(valid.sum())

    def result(self, year: int, image: Path, targets: YearTargets) -> YearFootprint:
        return YearFootprint(year, image, targets.footprint, self.m2 / 10_000.0, self.mining, self.valid,
                             targets.probability)


def _outputs(targets: YearTargets) -> list[Path]:
    return [targets.footprint] + ([targets.probability] if targets.probability else [])


def _write_behind(stack: ExitStack, blocks, write) -> None:
    """Hand every block to ``write`` in a writer thread (compression overlaps the next strip's
    inference), with at most one block in flight so memory stays bounded."""
    writer = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="euromine-writer"))
    pending: Future | None = None
    for block in stack.enter_context(closing(blocks)):
        if pending is not None:
            pending.result()
        pending = writer.submit(write, block)
    if pending is not None:
        pending.result()


def _map_one_year(
    year: int,
    path: Path,
    info: ImageInfo,
    targets: YearTargets,
    model: Model,
    threshold: float,
    settings: TileSettings,
    reporter: Reporter,
) -> YearFootprint:
    with atomic_outputs(_outputs(targets)) as temps, ExitStack() as stack:
        stack.enter_context(engine_env())
        src = stack.enter_context(rasterio.open(path))
        year_writer = _YearWriter(stack, temps, info.grid, targets, threshold)

        def write(block: RowBlock) -> None:
            year_writer(block.row0, block.probability, block.valid)

        _write_behind(stack, predict_rows(model, src, settings, reporter), write)
    return year_writer.result(year, path, targets)


def _map_jointly(
    images: Sequence[tuple[int, Path]],
    grid: Grid,
    targets: Sequence[YearTargets],
    model: Model,
    threshold: float,
    settings: TileSettings,
    reporter: Reporter,
) -> list[YearFootprint]:
    """A series model maps every year in one pass: each tile holds all years' images."""
    reporter.info(f"Series model: {len(images)} years mapped together")
    outputs = [_outputs(t) for t in targets]
    with atomic_outputs([p for group in outputs for p in group]) as temps, ExitStack() as stack:
        stack.enter_context(engine_env())
        srcs = [stack.enter_context(rasterio.open(path)) for _, path in images]
        writers, used = [], 0
        for target, group in zip(targets, outputs):
            writers.append(_YearWriter(stack, temps[used:used + len(group)], grid, target, threshold))
            used += len(group)

        def write(block: RowBlock) -> None:
            for t, year_writer in enumerate(writers):
                year_writer(block.row0, block.probability[t], block.valid[t])

        _write_behind(stack, predict_rows(model, srcs, settings, reporter), write)
    return [w.result(year, path, t) for w, (year, path), t in zip(writers, images, targets)]
