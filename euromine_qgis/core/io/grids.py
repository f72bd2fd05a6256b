"""Comparing raster grids: what differs between two grids, in words, and how to align one onto
the other with GDAL."""
from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import array_bounds

from .raster import Grid


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
