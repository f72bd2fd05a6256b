"""Pixel areas on the ground, exact for the raster's CRS."""
from __future__ import annotations

import math

import numpy as np
from osgeo import osr

from ..errors import InputError
from .raster import Grid


def _ellipsoid(grid: Grid) -> tuple[float, float]:
    """Semi-major axis (m) and first eccentricity of a geographic CRS's ellipsoid."""
    srs = osr.SpatialReference()
    srs.ImportFromWkt(grid.crs.to_wkt())
    a = srs.GetSemiMajor()
    inv_f = srs.GetInvFlattening()
    f = 0.0 if inv_f == 0 else 1.0 / inv_f
    return a, math.sqrt(f * (2.0 - f))


def _authalic_q(lat_rad: np.ndarray, e: float) -> np.ndarray:
    """(1 − e²)·q(φ), q of the authalic latitude: a²/2 · Δλ · this is the area from the equator to φ."""
    s = np.sin(lat_rad)
    if e == 0.0:
        return 2.0 * s
    es = e * s
    return (1.0 - e * e) * (s / (1.0 - es * es) + np.log((1.0 + es) / (1.0 - es)) / (2.0 * e))


def row_pixel_areas_m2(grid: Grid) -> np.ndarray:
    """Area in m² of one pixel in each row of ``grid`` (shape (height,)).

    Geographic CRS: the exact ellipsoidal area of each graticule cell (closed form through the
    authalic latitude — no library offers a per-row vectorised version, and a geodesic polygon
    per pixel would cost a call per row for the same number). Projected CRS: the planar cell
    area in metres. Rotated or sheared grids are refused for geographic CRS.
    """
    t = grid.transform
    if grid.crs is None:
        raise InputError("the raster has no CRS, so its pixel areas are unknown")
    if grid.crs.is_geographic:
        if t.b != 0 or t.d != 0:
            raise InputError("rotated geographic grids are not supported for area computation")
        a, e = _ellipsoid(grid)
        edges = np.radians(t.f + t.e * np.arange(grid.height + 1, dtype=np.float64))
        q = _authalic_q(edges, e)
        return np.abs(np.diff(q)) * (a * a / 2.0) * abs(math.radians(t.a))
    factor = grid.crs.linear_units_factor[1] if grid.crs.linear_units_factor else 1.0
    return np.full(grid.height, abs(t.a * t.e - t.b * t.d) * factor * factor)
