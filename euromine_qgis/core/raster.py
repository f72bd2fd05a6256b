"""Raster inputs and outputs: inspecting images, the output grid, atomic writes."""
from __future__ import annotations

import errno
import math
import os
import shlex
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Interleaving
from rasterio.transform import Affine, array_bounds
from rasterio.windows import Window

from .errors import EuroMineError, InputError, OutputError

FOOTPRINT_NODATA = 255
LOW_DISK_BYTES = 1 << 20  # free space under which a failed write is reported as a full disk
# errno values of a write that failed because of where it was written, not of what was written
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


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
            truncated = missing_pixel_data(src, path)
            if truncated:
                raise InputError(f"{path}: {truncated}; copy or download the file again")
            grid = Grid(src.crs, src.transform, src.width, src.height)
            return ImageInfo(path, src.count, src.dtypes[0], src.nodata, grid)
    except InputError:
        raise
    except Exception as exc:  # rasterio raises RasterioError or GDAL's CPLE_* errors here
        raise InputError(f"{path}: not a readable raster ({exc})") from exc


def missing_pixel_data(src, path: Path) -> str | None:
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


def grid_differences(a: Grid, b: Grid) -> str:
    """What differs between grids ``a`` and ``b``, in words (CRS, pixel size, extent)."""
    parts = []
    if a.crs != b.crs:
        parts.append(f"CRS {_crs_text(a.crs)} vs {_crs_text(b.crs)}")
    if not np.allclose(_pixel_size(a), _pixel_size(b), rtol=1e-9, atol=0):
        parts.append("pixel size {:.6g} × {:.6g} vs {:.6g} × {:.6g}".format(*_pixel_size(a), *_pixel_size(b)))
    if a.shape != b.shape or not a.transform.almost_equals(b.transform):
        parts.append(f"extent {_bounds_text(a)} ({a.width} × {a.height} px) vs {_bounds_text(b)} ({b.width} × {b.height} px)")
    return ", ".join(parts) or "same grid"


def align_hint(path: Path, grid: Grid, onto: Path, target: Grid, resampling: str = "near") -> str:
    """How to put raster ``path`` (on ``grid``) onto ``target``, the grid of ``onto``: the
    gdalwarp call (QGIS's Warp tool runs the same), or why it cannot be warped."""
    if grid.crs is None or target.crs is None:
        return (f"a raster without CRS cannot be warped: {path.name} must have {target.width} × {target.height} "
                f"pixels like {onto.name}, or both must carry a CRS")
    west, south, east, north = array_bounds(target.height, target.width, target.transform)
    aligned = path.with_name(f"{path.stem}_aligned{path.suffix}")
    command = ["gdalwarp", "-t_srs", _crs_text(target.crs), "-te", *(repr(float(v)) for v in (west, south, east, north)),
               "-ts", str(target.width), str(target.height), "-r", resampling, str(path), str(aligned)]
    return (f"align {path.name} to the grid of {onto.name} with GDAL ({shlex.join(command)}, or QGIS's "
            "Raster › Projections › Warp with that CRS, extent and size) and use the aligned file")


def _crs_text(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    authority = crs.to_authority()
    return ":".join(authority) if authority else crs.to_string()


def _pixel_size(grid: Grid) -> tuple[float, float]:
    return abs(grid.transform.a), abs(grid.transform.e)


def _bounds_text(grid: Grid) -> str:
    west, south, east, north = array_bounds(grid.height, grid.width, grid.transform)
    return f"[{west:.6g}, {south:.6g}, {east:.6g}, {north:.6g}]"


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
    """Create ``folder`` if needed and make sure files can be created there.

    Writability is tried with an unnamed temporary file rather than read from mode bits, which
    do not bind root; a read-only mount or an immutable folder refuses root too.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder; choose a folder for the outputs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc.strerror})") from exc
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"{folder}: output folder is not writable ({exc.strerror}); choose another folder") from exc


def check_not_inputs(outputs: Iterable[Path | None], inputs: Iterable[Path], remedy: str) -> None:
    """Raise OutputError when one of ``outputs`` is one of ``inputs``: inputs are never modified.
    ``remedy`` says what to change (e.g. "choose another OUTPUT_FOLDER")."""
    sources = {Path(p).resolve() for p in inputs}
    for output in outputs:
        if output is not None and Path(output).resolve() in sources:
            raise OutputError(f"{output}: output would overwrite an input; {remedy}")


@contextmanager
def atomic_outputs(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; rename them onto the targets only on success.

    A failure or cancellation inside the block deletes the temporaries, so no partial file ever
    sits under a requested output name. Finished GeoTIFFs are checked before the rename: GDAL
    reports a failed flush at close (a full disk, say) only in its log, never as an exception.
    A write that fails (inside the block or at that check) raises OutputError naming the target
    and, when the disk is full, saying so.
    """
    token = uuid.uuid4().hex[:8]
    temps = [t.with_name(f".{t.stem}.partial-{token}{t.suffix}") for t in targets]
    try:
        yield temps
        for temp, target in zip(temps, targets):
            _check_written(temp, target)
    except BaseException as exc:
        error = _write_error(exc, temps, targets)  # measured while the temporaries still hold their space
        for temp in temps:
            _remove_quietly(temp)
        if error is not None:
            raise error from exc
        raise
    try:
        for temp, target in zip(temps, targets):
            os.replace(temp, target)
    except OSError as exc:
        for temp in temps:
            _remove_quietly(temp)
        raise OutputError(f"{target}: cannot move the finished output into place ({exc.strerror})") from exc


def _check_written(temp: Path, target: Path) -> None:
    """Raise OutputError when the finished GeoTIFF ``temp`` lacks pixel data or cannot be read."""
    if temp.suffix.lower() not in (".tif", ".tiff") or not temp.exists():
        return
    try:
        with rasterio.open(temp) as src:
            problem = missing_pixel_data(src, temp)
    except Exception as exc:  # rasterio raises RasterioError or GDAL's CPLE_* errors here
        problem = f"the written file cannot be read back ({first_line(exc)})"
    if problem:
        raise OutputError(f"{target}: {_disk_full(target.parent) or 'writing the output failed'}; "
                          f"nothing partial was kept ({problem})")


def _write_error(exc: BaseException, temps: Sequence[Path], targets: Sequence[Path]) -> OutputError | None:
    """The OutputError for ``exc`` when it is a failed write of one of ``temps``, else None."""
    if isinstance(exc, EuroMineError) or not isinstance(exc, Exception):
        return None
    text = str(exc)
    names = [temp.name for temp in temps]
    hit = next((target for name, target in zip(names, targets) if name in text), None)
    if hit is None and not (isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS):
        return None  # not about an output: a failed read, a model error, a bug
    folder = (hit or targets[0]).parent
    return OutputError(f"{hit or folder}: {_disk_full(folder) or 'writing the output failed'}; "
                       f"nothing partial was kept ({first_line(exc)})")


def _disk_full(folder: Path) -> str | None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= LOW_DISK_BYTES:
        return None
    return f"the disk holding {folder} is full ({free // 1024} KiB free); free space there or choose another folder"


# GDAL 3.6's multi-threaded GeoTIFF decoding (GDAL_NUM_THREADS, which users set for QGIS) only
# logs a damaged block and hands back garbage instead of failing the read, so every read of the
# plugin runs inside rasterio.Env(**STRICT_READS).
STRICT_READS = {"GDAL_NUM_THREADS": "1"}


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (GDAL's can run long), for error messages."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _remove_quietly(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".aux.xml"), path.with_name(path.name + ".msk")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def read_window(src: rasterio.io.DatasetReader, window: Window, indexes: int | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """``src.read(indexes, window=..., out=...)``, with a damaged block reported as an InputError
    naming the file and rows. Call it inside ``rasterio.Env(**STRICT_READS)``."""
    try:
        return src.read(indexes, window=window, out=out)
    except OSError as exc:  # rasterio's read errors (RasterioIOError) are OSErrors
        raise InputError(
            f"{src.name}: cannot read rows {window.row_off}–{window.row_off + window.height - 1}; "
            f"the file is damaged ({first_line(exc)}) — copy or export it again"
        ) from exc
