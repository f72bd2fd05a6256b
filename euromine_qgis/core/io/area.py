"""Areas on the ground: each pixel row's exact area for the raster's CRS, and the one tally that
sums the area of masks window by window."""
from __future__ import annotations

import math
from typing import Hashable

import numpy as np
from pyproj import CRS as ProjCRS

from ..errors import InputError
from .raster import Grid

M2_PER_HA = 10_000.0
AREA_UNITS = ("ha", "pixels")


def _ellipsoid(grid: Grid) -> tuple[float, float]:
    """Semi-major axis (m) and first eccentricity of a geographic CRS's ellipsoid."""
    ellipsoid = ProjCRS.from_wkt(grid.crs.to_wkt()).ellipsoid
    inv_f = ellipsoid.inverse_flattening
    f = 0.0 if inv_f == 0 else 1.0 / inv_f
    return ellipsoid.semi_major_metre, math.sqrt(f * (2.0 - f))


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


class AreaTally:
    """Areas of boolean masks on one grid, summed window by window under any keys (a year, a
    pair of years, "gain"): each True pixel counts the exact area of its row in hectares, or 1
    with ``unit="pixels"`` (for a grid without CRS)."""

    def __init__(self, grid: Grid, unit: str = "ha") -> None:
        if unit not in AREA_UNITS:
            raise ValueError(f"area unit '{unit}' is not one of {', '.join(AREA_UNITS)}")
        self.unit = unit
        self.row_area = row_pixel_areas_m2(grid) / M2_PER_HA if unit == "ha" else np.ones(grid.height)
        self.totals: dict[Hashable, float | np.ndarray] = {}

    def add(self, key: Hashable, row0: int, mask: np.ndarray) -> None:
        """Add the area of ``mask`` (rows × cols, or a stack of them along leading axes, summed
        separately) whose first row is row ``row0`` of the grid."""
        area = np.count_nonzero(mask, axis=-1) @ self.row_area[row0:row0 + mask.shape[-2]]
        self.totals[key] = self.totals.get(key, 0.0) + area

    def __getitem__(self, key: Hashable) -> float | np.ndarray:
        """The area summed under ``key`` (0 when nothing was added): a float, or one per mask of a stack."""
        total = self.totals.get(key, 0.0)
        return float(total) if np.ndim(total) == 0 else total
