"""Raster inputs and outputs: inspecting images, the output grid, atomic writes."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from .errors import InputError, OutputError

FOOTPRINT_NODATA = 255


@dataclass(frozen=True)
class Grid:
    """The pixel grid of a raster: CRS, affine transform and size."""

    crs: CRS | None
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width


@dataclass(frozen=True)
class ImageInfo:
    """What an input image is, read from its header only."""

    path: Path
    count: int
    dtype: str
    nodata: float | None
    grid: Grid


def inspect_image(path: str | Path) -> ImageInfo:
    """Open an input raster's header and describe it, or raise InputError naming the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    try:
        with rasterio.open(path) as src:
            if src.width == 0 or src.height == 0 or src.count == 0:
                raise InputError(f"{path}: raster has no pixels ({src.width} × {src.height}, {src.count} bands)")
            dtypes = set(src.dtypes)
            if len(dtypes) != 1:
                raise InputError(f"{path}: bands have mixed data types {sorted(dtypes)}")
            grid = Grid(src.crs, src.transform, src.width, src.height)
            return ImageInfo(path, src.count, src.dtypes[0], src.nodata, grid)
    except InputError:
        raise
    except Exception as exc:  # rasterio raises RasterioError or GDAL's CPLE_* errors here
        raise InputError(f"{path}: not a readable raster ({exc})") from exc


def footprint_profile(grid: Grid) -> dict:
    """GeoTIFF creation options for a uint8 mask (0/1, nodata 255) on ``grid``."""
    return single_band_profile(grid, "uint8", FOOTPRINT_NODATA)


def probability_profile(grid: Grid, dtype: str) -> dict:
    """GeoTIFF creation options for a mining-probability raster on ``grid``.

    float32 holds the probability with NaN as nodata; uint8 holds round(255·p) over the full
    0–255 range, so its nodata is an internal mask band instead of a value.
    """
    return single_band_profile(grid, dtype, float("nan") if dtype == "float32" else None)


def write_probability(dst, probability: np.ndarray, valid: np.ndarray, window: Window) -> None:
    """Write a block of probabilities (and, for uint8, its validity mask) into ``dst``."""
    if dst.dtypes[0] == "float32":
        dst.write(np.where(valid, probability, np.float32(np.nan)).astype(np.float32), 1, window=window)
        return
    scaled = np.rint(np.clip(probability, 0.0, 1.0) * 255.0).astype(np.uint8)
    scaled[~valid] = 0
    dst.write(scaled, 1, window=window)
    dst.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=window)


def single_band_profile(grid: Grid, dtype: str, nodata: float | None) -> dict:
    """Deflate-compressed single-band GeoTIFF creation options on ``grid`` (tiled when large)."""
    profile = dict(
        driver="GTiff",
        dtype=dtype,
        count=1,
        nodata=nodata,
        width=grid.width,
        height=grid.height,
        transform=grid.transform,
        compress="deflate",
    )
    if grid.crs is not None:
        profile["crs"] = grid.crs
    if grid.width >= 256 and grid.height >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    return profile


def check_output_folder(folder: Path) -> None:
    """Create ``folder`` if needed and make sure files can be written there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc.strerror})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: output folder is not writable")


@contextmanager
def atomic_outputs(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; rename them onto the targets only on success.

    A failure or cancellation inside the block deletes the temporaries, so no partial file ever
    sits under a requested output name.
    """
    token = uuid.uuid4().hex[:8]
    temps = [t.with_name(f".{t.stem}.partial-{token}{t.suffix}") for t in targets]
    try:
        yield temps
    except BaseException:
        for temp in temps:
            _remove_quietly(temp)
        raise
    try:
        for temp, target in zip(temps, targets):
            os.replace(temp, target)
    except OSError as exc:
        for temp in temps:
            _remove_quietly(temp)
        raise OutputError(f"{target}: cannot move the finished output into place ({exc.strerror})") from exc


def _remove_quietly(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".aux.xml"), path.with_name(path.name + ".msk")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
