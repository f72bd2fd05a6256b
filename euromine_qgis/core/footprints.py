"""Annual mining footprint maps: one uint8 raster per year on the input grid, with its area."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from .area import row_pixel_areas_m2
from .errors import InputError, OutputError
from .inference import TileSettings, predict_rows
from .model import Model
from .progress import Reporter
from .raster import FOOTPRINT_NODATA, ImageInfo, atomic_outputs, check_output_folder, footprint_profile, inspect_image


@dataclass(frozen=True)
class YearFootprint:
    """The footprint map of one year and what it measures."""

    year: int
    image: Path
    footprint: Path
    mining_ha: float
    mining_pixels: int
    valid_pixels: int


def footprint_name(year: int) -> str:
    """File name of a year's footprint raster."""
    return f"footprint_{year}.tif"


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
) -> list[YearFootprint]:
    """Map the mining footprint of each (year, image) into ``out_dir/footprint_{year}.tif``.

    Outputs keep each input's grid exactly (CRS, transform, size); values are 1 mining,
    0 not mining, 255 nodata (any input band nodata). Each year's file appears only when
    complete. Returns the mapped area per year (geodesic for geographic CRS).
    """
    if not 0.0 < threshold < 1.0:
        raise InputError(f"THRESHOLD {threshold} must lie strictly between 0 and 1")
    infos = check_images(images, model)
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    inputs = {p.resolve() for _, p in images}
    targets = [out_dir / footprint_name(year) for year, _ in images]
    for target in targets:
        if target.resolve() in inputs:
            raise OutputError(f"{target}: output would overwrite an input image; choose another OUTPUT_FOLDER")

    reporter.info(f"Model: {model.description}")
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


def _map_one_year(
    year: int,
    path: Path,
    info: ImageInfo,
    target: Path,
    model: Model,
    threshold: float,
    settings: TileSettings,
    reporter: Reporter,
) -> YearFootprint:
    row_areas = row_pixel_areas_m2(info.grid)
    mining_m2 = 0.0
    mining_px = valid_px = 0
    with atomic_outputs([target]) as (temp,):
        with rasterio.open(path) as src, rasterio.open(temp, "w", **footprint_profile(info.grid)) as dst:
            for block in predict_rows(model, src, settings, reporter):
                mask = (block.probability >= threshold).astype(np.uint8)
                mask[~block.valid] = FOOTPRINT_NODATA
                h = mask.shape[0]
                dst.write(mask, 1, window=Window(0, block.row0, info.grid.width, h))
                per_row = (mask == 1).sum(axis=1)
                mining_m2 += float(per_row @ row_areas[block.row0:block.row0 + h])
                mining_px += int(per_row.sum())
                valid_px += int(block.valid.sum())
    return YearFootprint(year, path, target, mining_m2 / 10_000.0, mining_px, valid_px)
