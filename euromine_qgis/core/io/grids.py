"""Comparing raster grids, with one tolerance: whether two grids are the same, what differs
between them in words, and how to align one onto the other with GDAL."""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rasterio.crs import CRS
from rasterio.transform import array_bounds

from ..errors import InputError
from .coordinates import apply_affine
from .raster import Grid

# Two grids are the same when no pixel corner of one lies further than this many pixels from its
# counterpart on the other: far below a shift that moves a pixel onto its neighbour, above the
# rounding of corner coordinates written with six decimals of a degree (at most 0.06 m, 0.6 % of
# a 10 m pixel).
GRID_TOLERANCE = 0.01


class OnGrid(Protocol):
    """A raster file and its grid (ImageInfo, MaskInfo)."""

    @property
    def path(self) -> Path: ...

    @property
    def grid(self) -> Grid: ...


def same_grid(a: Grid, b: Grid) -> bool:
    """Whether ``a`` and ``b`` have the same CRS and size and their pixels coincide within GRID_TOLERANCE."""
    return a.crs == b.crs and a.shape == b.shape and _misalignment(a, b) <= GRID_TOLERANCE


def common_grid(rasters: Sequence[OnGrid], problem: str, need: str = "", resampling: str = "near") -> Grid:
    """The grid of ``rasters[0]``, which every other raster must share; otherwise InputError naming
    the first one that does not and ``rasters[0]``: ``problem``, what differs, ``need`` (what must
    hold, if anything to add) and the gdalwarp call that aligns it."""
    base = rasters[0]
    for raster in rasters[1:]:
        if not same_grid(raster.grid, base.grid):
            raise grid_mismatch(raster, base, problem, need, resampling)
    return base.grid


def grid_mismatch(raster: OnGrid, onto: OnGrid, problem: str, need: str = "", resampling: str = "near") -> InputError:
    """The InputError for ``raster`` not lying on the grid of ``onto`` (see common_grid)."""
    return InputError(f"{raster.path} and {onto.path}: {problem} ({grid_differences(raster.grid, onto.grid)}); "
                      + (f"{need}: " if need else "")
                      + align_hint(raster.path, raster.grid, onto.path, onto.grid, resampling))


def grid_differences(a: Grid, b: Grid) -> str:
    """What differs between grids ``a`` and ``b``, in words (CRS, pixel size, extent); empty for the same grid."""
    parts = []
    if a.crs != b.crs:
        parts.append(f"CRS {_crs_text(a.crs)} vs {_crs_text(b.crs)}")
    size_a, size_b = _pixel_size(a), _pixel_size(b)
    # a pixel size that differs by so little that it moves no pixel corner by GRID_TOLERANCE is the same
    if any(abs(x - y) * max(a.shape) > GRID_TOLERANCE * x for x, y in zip(size_a, size_b, strict=True)):
        parts.append("pixel size {:.6g} × {:.6g} vs {:.6g} × {:.6g}".format(*size_a, *size_b))
    if a.shape != b.shape or _misalignment(a, b) > GRID_TOLERANCE:
        parts.append(f"extent {_bounds_text(a)} ({a.width} × {a.height} px) "
                     f"vs {_bounds_text(b)} ({b.width} × {b.height} px)")
    return ", ".join(parts)


def align_hint(path: Path, grid: Grid, onto: Path, target: Grid, resampling: str = "near") -> str:
    """How to put raster ``path`` (on ``grid``) onto ``target``, the grid of ``onto``: the
    gdalwarp call (QGIS's Warp tool runs the same), or why it cannot be warped."""
    if grid.crs is None or target.crs is None:
        return (f"a raster without CRS cannot be warped: {path.name} must have {target.width} × {target.height} "
                f"pixels like {onto.name}, or both must carry a CRS")
    west, south, east, north = array_bounds(target.height, target.width, target.transform)
    aligned = path.with_name(f"{path.stem}_aligned{path.suffix}")
    command = ["gdalwarp", "-t_srs", _crs_text(target.crs),
               "-te", *(repr(float(v)) for v in (west, south, east, north)),
               "-ts", str(target.width), str(target.height), "-r", resampling, str(path), str(aligned)]
    return (f"align {path.name} to the grid of {onto.name} with GDAL ({shlex.join(command)}, or QGIS's "
            "Raster › Projections › Warp with that CRS, extent and size) and use the aligned file")


def _misalignment(a: Grid, b: Grid) -> float:
    """The largest distance, in pixels of ``b``, between pixel corner (col, row) of ``a`` and pixel
    corner (col, row) of ``b``; both grids are affine, so the four corners of ``a``'s extent bound it."""
    to_b = ~b.transform  # map coordinates -> b's pixel coordinates
    corners = [(0, 0), (a.width, 0), (0, a.height), (a.width, a.height)]
    return max(max(abs(u - x), abs(v - y)) for x, y in corners
               for u, v in [apply_affine(to_b, *apply_affine(a.transform, x, y))])


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
