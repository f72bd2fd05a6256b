"""Annual footprints made consistent over the years: map every year, then filter per pixel.

A temporal filter needs every year of a pixel, so the years are first mapped as usual
(float32 probabilities) into a hidden temporary folder beside the outputs, then one pass of
row windows holding all years filters them and writes the final rasters. The temporary folder
is removed however the run ends; outputs appear under their names only when all are complete.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from .area import row_pixel_areas_m2
from .errors import InputError, OutputError
from .footprints import (
    YearFootprint, check_images, common_image_grid, footprint_name, map_footprints, probability_name,
)
from .inference import TileSettings
from .masks import WINDOW_PIXELS, window_rows
from .model import Model
from .progress import Reporter
from .raster import (
    STRICT_READS,
    FOOTPRINT_NODATA,
    Grid,
    atomic_outputs,
    check_output_folder,
    footprint_profile,
    probability_profile,
    write_probability,
)
from .temporal import filter_width, smooth_probabilities

MAPPING_SHARE = 90.0  # percent of the progress bar spent mapping the years


def map_footprint_series(
    images: Sequence[tuple[int, Path]],
    model: Model,
    out_dir: Path,
    threshold: float = 0.5,
    settings: TileSettings = TileSettings(),
    reporter: Reporter = Reporter(),
    probabilities: str | None = None,
    temporal_filter: str = "none",
) -> list[YearFootprint]:
    """Like ``footprints.map_footprints``, with the ``temporal_filter`` of ``core.temporal``
    applied to the probabilities before thresholding. Every image must share one grid when a
    filter is applied; ``none`` maps exactly as ``map_footprints``."""
    width = filter_width(temporal_filter)
    if width == 1:
        return map_footprints(images, model, out_dir, threshold, settings, reporter, probabilities)
    images = sorted((int(y), Path(p)) for y, p in images)
    grid = common_image_grid(check_images(images, model))
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    footprints = [out_dir / footprint_name(y) for y, _ in images]
    probability_files = [out_dir / probability_name(y) for y, _ in images] if probabilities else []
    inputs = {p.resolve() for _, p in images}
    for path in (*footprints, *probability_files):
        if path.resolve() in inputs:
            raise OutputError(f"{path}: output would overwrite an input image; choose another OUTPUT_FOLDER")

    work = Path(tempfile.mkdtemp(prefix=".temporal-", dir=out_dir))
    try:
        mapping = Reporter(progress=lambda p: reporter.progress(p * MAPPING_SHARE / 100.0),
                           info=reporter.info, is_canceled=reporter.is_canceled)
        mapped = map_footprints(images, model, work, threshold, settings, mapping, probabilities="float32")
        reporter.info(f"Temporal filter {temporal_filter}: {width}-year windows over the valid years of each pixel")
        areas = _filter_years([m.probability for m in mapped], grid, width, threshold, footprints,
                              probability_files, probabilities, reporter)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        YearFootprint(year, image, footprint, ha, mining, valid, probability_files[t] if probabilities else None)
        for t, ((year, image), footprint, (ha, mining, valid)) in enumerate(zip(images, footprints, areas))
    ]


def _filter_years(
    sources: Sequence[Path],
    grid: Grid,
    width: int,
    threshold: float,
    footprints: Sequence[Path],
    probability_files: Sequence[Path],
    probabilities: str | None,
    reporter: Reporter,
) -> list[tuple[float, int, int]]:
    """Filter the float32 probability rasters ``sources`` into the final outputs, in row windows;
    returns (mining hectares, mining pixels, valid pixels) per year."""
    height, cols = grid.shape
    with rasterio.open(sources[0]) as first:
        rows = min(height, window_rows(cols, first.block_shapes[0][0], WINDOW_PIXELS))
    row_ha = row_pixel_areas_m2(grid) / 10_000.0
    totals = np.zeros((len(sources), 3))
    with atomic_outputs([*footprints, *probability_files]) as temps, ExitStack() as stack:
        stack.enter_context(rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, **STRICT_READS))
        srcs = [stack.enter_context(rasterio.open(p)) for p in sources]
        masks_out = [stack.enter_context(rasterio.open(t, "w", **footprint_profile(grid))) for t in temps[:len(footprints)]]
        probs_out = [stack.enter_context(rasterio.open(t, "w", **probability_profile(grid, probabilities)))
                     for t in temps[len(footprints):]]
        for row0 in range(0, height, rows):
            reporter.check()
            window = Window(0, row0, cols, min(rows, height - row0))
            probability = np.stack([src.read(1, window=window) for src in srcs])
            valid = ~np.isnan(probability)
            smoothed = smooth_probabilities(probability, valid, width)
            for t, dst in enumerate(masks_out):
                mining = valid[t] & (smoothed[t] >= threshold)
                dst.write(np.where(valid[t], mining, FOOTPRINT_NODATA).astype(np.uint8), 1, window=window)
                totals[t] += [np.count_nonzero(mining, axis=1) @ row_ha[row0:row0 + window.height],
                              np.count_nonzero(mining), np.count_nonzero(valid[t])]
            for t, dst in enumerate(probs_out):
                write_probability(dst, np.nan_to_num(smoothed[t]), valid[t], window)
            reporter.progress(MAPPING_SHARE + (100.0 - MAPPING_SHARE) * (row0 + window.height) / height)
    return [(float(ha), int(mining), int(valid)) for ha, mining, valid in totals]
