"""Raster files: opening inputs strictly and inspecting their headers, reading windows, and the
GeoTIFF profiles of the plugin's outputs."""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Interleaving
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.io import DatasetReader, DatasetWriter
from rasterio.transform import Affine
from rasterio.windows import Window

from ..errors import InputError, first_line

FOOTPRINT_NODATA = 255

# What opening or reading a raster raises when the file, not the code, is at fault: rasterio's
# own errors (RasterioIOError, "not a supported file format" or a failed read, derives from
# RasterioError only from rasterio 1.4 on), and GDAL's errors as rasterio passes them on
# (CPLE_OpenFailedError, CPLE_AppDefinedError, ...), whose base class rasterio 1.3 and 1.4 expose
# only from their private module rasterio._err.
RASTERIO_ERRORS: tuple[type[Exception], ...] = (RasterioError, RasterioIOError, CPLE_BaseError)


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


# GDAL 3.6's multi-threaded GeoTIFF decoding (GDAL_NUM_THREADS, which users set for QGIS) only
# logs a damaged block and hands back garbage instead of failing the read. The GeoTIFF driver
# takes the setting when a file is opened, not when it is read, so every raster the plugin reads
# is opened inside rasterio.Env(**STRICT_READS) by open_raster.
STRICT_READS = {"GDAL_NUM_THREADS": "1"}


def open_raster(path: str | Path, driver: str | None = None, **options: object) -> DatasetReader:
    """Open a raster for reading so that a damaged block fails its read (see STRICT_READS), with
    GDAL's ``driver`` and open ``options`` where given."""
    with rasterio.Env(**STRICT_READS):
        return rasterio.open(path, driver=driver, **options)


def open_without_crs_warning(path: str | Path) -> DatasetReader:
    """open_raster for a raster that may carry no georeferencing (EuroMineNet labels), without
    rasterio's warning about it: the engine asks for a CRS itself wherever it needs one. From one
    thread at a time, since warning filters are process-wide."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return open_raster(path)


@contextmanager
def open_input(path: Path) -> Iterator[DatasetReader]:
    """An input raster opened for reading, its pixel data checked to be all there; InputError
    naming the file when it is missing, empty, truncated or not a readable raster.

    The block is for reading this file: a rasterio or GDAL error raised inside it (RASTERIO_ERRORS)
    becomes an InputError naming the file too. Every other error of the block passes unchanged."""
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    try:
        src = open_without_crs_warning(path)
    except RASTERIO_ERRORS as exc:
        raise InputError(f"{path}: not a readable raster ({first_line(exc)})") from exc
    with src:
        try:
            truncated = missing_pixel_data(src, path)
            if truncated:
                raise InputError(f"{path}: {truncated}; copy or download the file again")
            yield src
        except RASTERIO_ERRORS as exc:
            raise InputError(f"{path}: reading the raster failed ({first_line(exc)})") from exc


def inspect_image(path: str | Path) -> ImageInfo:
    """Open an input raster's header and describe it, or raise InputError naming the file."""
    path = Path(path)
    with open_input(path) as src:
        if src.width == 0 or src.height == 0 or src.count == 0:
            raise InputError(f"{path}: raster has no pixels ({src.width} × {src.height}, {src.count} bands)")
        dtypes = set(src.dtypes)
        if len(dtypes) != 1:
            raise InputError(f"{path}: bands have mixed data types {sorted(dtypes)}")
        grid = Grid(src.crs, src.transform, src.width, src.height)
        return ImageInfo(path, src.count, src.dtypes[0], src.nodata, grid)


def missing_pixel_data(src: DatasetReader, path: Path) -> str | None:
    """Why the GeoTIFF ``src`` (opened from ``path``) lacks part of its pixel data, or None.

    GDAL opens a truncated GeoTIFF (an interrupted copy or download, a write onto a full disk)
    from its header alone and fails only when a read reaches the missing blocks, possibly far
    into a run; the header's block offsets and sizes tell up front. Other formats pass.
    """
    if src.driver != "GTiff":
        return None
    size = path.stat().st_size
    # pixel-interleaved blocks hold every band, so band 1's blocks cover the file
    bands = range(1, src.count + 1) if src.interleaving == Interleaving.band else (1,)
    for band in bands:
        rows, cols = src.block_shapes[band - 1]
        for j in range(math.ceil(src.height / rows)):
            for i in range(math.ceil(src.width / cols)):
                offset = src.get_tag_item(f"BLOCK_OFFSET_{i}_{j}", "TIFF", bidx=band)
                length = src.get_tag_item(f"BLOCK_SIZE_{i}_{j}", "TIFF", bidx=band)
                end = int(offset or 0) + int(length or 0)
                if end > size:
                    return f"file is truncated: it holds {size} bytes but its pixel data runs to byte {end}"
    return None


def decimation(height: int, width: int, side: int) -> tuple[int, int, int]:
    """Every how many pixels a decimated view of a ``height`` × ``width`` raster keeps one so its
    longest side is at most ``side``, and that view's (height, width)."""
    step = max(1, math.ceil(max(height, width) / side))
    return step, math.ceil(height / step), math.ceil(width / step)


def footprint_values(mining: NDArray[np.bool_], valid: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """The uint8 values of a footprint raster: 1 mining, 0 not mining, FOOTPRINT_NODATA where not ``valid``."""
    values: NDArray[np.uint8] = np.where(valid, mining, FOOTPRINT_NODATA).astype(np.uint8)
    return values


def footprint_profile(grid: Grid) -> dict[str, Any]:
    """GeoTIFF creation options for a uint8 mask (0/1, nodata 255) on ``grid``."""
    return single_band_profile(grid, "uint8", FOOTPRINT_NODATA)


def probability_profile(grid: Grid, dtype: str) -> dict[str, Any]:
    """GeoTIFF creation options for a mining-probability raster on ``grid``.

    float32 holds the probability with NaN as nodata; uint8 holds round(255·p) over the full
    0–255 range, so its nodata is an internal mask band instead of a value.
    """
    return single_band_profile(grid, dtype, float("nan") if dtype == "float32" else None)


def write_probability(dst: DatasetWriter, probability: NDArray[np.float32], valid: NDArray[np.bool_],
                      window: Window) -> None:
    """Write a block of probabilities (and, for uint8, its validity mask) into ``dst``."""
    if dst.dtypes[0] == "float32":
        dst.write(np.where(valid, probability, np.float32(np.nan)).astype(np.float32), 1, window=window)
        return
    scaled = np.rint(np.clip(probability, 0.0, 1.0) * 255.0).astype(np.uint8)
    scaled[~valid] = 0
    dst.write(scaled, 1, window=window)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):  # a .msk sidecar would not follow the atomic rename
        dst.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=window)


def single_band_profile(grid: Grid, dtype: str, nodata: float | None) -> dict[str, Any]:
    """Deflate-compressed single-band GeoTIFF creation options on ``grid`` (tiled when large)."""
    profile: dict[str, Any] = dict(
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


def read_window(src: DatasetReader, window: Window, indexes: int | Sequence[int] | None = None,
                out: NDArray[Any] | None = None) -> NDArray[Any]:
    """``src.read(indexes, window=..., out=...)``, with a damaged block reported as an InputError
    naming the file and rows (when ``src`` was opened by open_raster: see STRICT_READS)."""
    try:
        data: NDArray[Any] = src.read(indexes, window=window, out=out)
        return data
    except RASTERIO_ERRORS as exc:
        raise InputError(
            f"{src.name}: cannot read rows {window.row_off}–{window.row_off + window.height - 1}; "
            f"the file is damaged ({first_line(exc)}) — copy or export it again"
        ) from exc
