"""Areas on the ground: each pixel's exact area for the raster's CRS, and the one tally that sums
the area of masks window by window."""
from __future__ import annotations

import math
from collections.abc import Hashable
from functools import lru_cache
from itertools import pairwise

import numpy as np
import rasterio.crs
from numpy.typing import NDArray
from pyproj import CRS, Proj

from ..errors import InputError
from .coordinates import apply_affine
from .raster import Grid

M2_PER_HA = 10_000.0
AREA_UNITS = ("ha", "pixels")

# Spacing on the ground of the pixel centres where a projection's areal scale is evaluated; between
# them the pixel area is interpolated linearly. The area's relative curvature is of the order of 1/R² (R the
# Earth's radius), so the interpolation is off by about (1 km)²/8/R² ≈ 3e-9, far below the 0.01 %
# promised, while evaluating every pixel costs a microsecond per pixel (minutes for one scene).
SCALE_SPACING_M = 1_000.0


@lru_cache(maxsize=8)
def _ellipsoid(wkt: str) -> tuple[float, float]:
    """Semi-major axis (m) and first eccentricity of the ellipsoid of a CRS's datum (as WKT)."""
    ellipsoid = CRS.from_wkt(wkt).ellipsoid
    if ellipsoid is None:
        raise InputError(f"the CRS has no ellipsoid, so its pixel areas are unknown: {wkt[:80]}")
    inv_f = ellipsoid.inverse_flattening
    f = 0.0 if inv_f == 0 else 1.0 / inv_f
    return ellipsoid.semi_major_metre, math.sqrt(f * (2.0 - f))


def _authalic_q(lat_rad: NDArray[np.float64], e: float) -> NDArray[np.float64]:
    """(1 − e²)·q(φ), q of the authalic latitude: a²/2 · Δλ · this is the area from the equator to φ."""
    s: NDArray[np.float64] = np.sin(lat_rad)
    if e == 0.0:
        return 2.0 * s
    es = e * s
    q: NDArray[np.float64] = (1.0 - e * e) * (s / (1.0 - es * es) + np.log((1.0 + es) / (1.0 - es)) / (2.0 * e))
    return q


def _require_crs(grid: Grid) -> rasterio.crs.CRS:
    """The CRS of ``grid``; a grid without one is refused: its pixels have no area on the ground."""
    if grid.crs is None:
        raise InputError("the raster has no CRS, so its pixel areas are unknown")
    return grid.crs


def _geographic_row_areas(grid: Grid, row0: int, rows: int) -> NDArray[np.float64]:
    """Exact ellipsoidal area (m²) of one graticule cell in each of ``rows`` rows from ``row0``."""
    t = grid.transform
    if t.b != 0 or t.d != 0:
        raise InputError("rotated geographic grids are not supported for area computation")
    a, e = _ellipsoid(_require_crs(grid).to_wkt())
    edges = np.radians(t.f + t.e * np.arange(row0, row0 + rows + 1, dtype=np.float64))
    areas: NDArray[np.float64] = np.abs(np.diff(_authalic_q(edges, e))) * (a * a / 2.0) * abs(math.radians(t.a))
    return areas


@lru_cache(maxsize=8)
def _projection(wkt: str) -> Proj:
    """The projection of a CRS (as WKT), made once: a pass asks for it in every window."""
    return Proj(CRS.from_wkt(wkt))


def _knots(n: int, step: int) -> NDArray[np.int64]:
    """Pixel indices where the scale is evaluated: every ``step``-th of ``n`` and the last."""
    knots: NDArray[np.int64] = np.unique(np.append(np.arange(0, n, step), n - 1))
    return knots


def _bracket(positions: NDArray[np.int64], knots: NDArray[np.int64]
             ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """For each position: the index of the knot at or before it, of the next knot, and the next one's weight."""
    lower = np.searchsorted(knots, positions, side="right") - 1
    upper = np.minimum(lower + 1, len(knots) - 1)
    weight = (positions - knots[lower]) / np.maximum(knots[upper] - knots[lower], 1)
    return lower, upper, weight


def _projected_pixel_areas(grid: Grid, row0: int, rows: int, col0: int, width: int) -> NDArray[np.float64]:
    """Area (m²) of each pixel of ``rows`` rows from ``row0`` and ``width`` columns from ``col0``: the
    planar cell area divided by the projection's areal scale at the pixel centre."""
    t = grid.transform
    crs = _require_crs(grid)
    unit = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    planar_m2 = abs(t.a * t.e - t.b * t.d) * unit * unit
    step = max(1, int(SCALE_SPACING_M / math.sqrt(planar_m2)))
    row_knots, col_knots = _knots(grid.height, step), _knots(grid.width, step)
    r_lo, r_hi, r_w = _bracket(np.arange(row0, row0 + rows), row_knots)
    c_lo, c_hi, c_w = _bracket(np.arange(col0, col0 + width), col_knots)
    used = slice(r_lo[0], r_hi[-1] + 1)  # only the knot rows around this window
    cols, knot_rows = np.meshgrid(col_knots + 0.5, row_knots[used] + 0.5)
    wkt = crs.to_wkt()
    projection = _projection(wkt)
    lon, lat = projection(*apply_affine(t, cols, knot_rows), inverse=True, errcheck=False)
    factors = projection.get_factors(lon, lat, errcheck=False)
    # The areal scale from the projection's partial derivatives and the area element of the datum's
    # ellipsoid, not PROJ's areal_scale: that one uses the sphere of spherical projections such as
    # Web Mercator, which sit on an ellipsoidal datum (0.12 % off at 50°N).
    _, e = _ellipsoid(wkt)
    with np.errstate(divide="ignore", invalid="ignore"):  # points outside the projection: refused below
        jacobian = np.abs(np.asarray(factors.dx_dlam) * np.asarray(factors.dy_dphi)
                          - np.asarray(factors.dx_dphi) * np.asarray(factors.dy_dlam))
        sin_lat = np.sin(np.radians(lat))
        area_element = np.cos(np.radians(lat)) * (1.0 - e * e) / (1.0 - e * e * sin_lat * sin_lat) ** 2
        knot_areas = planar_m2 * area_element / jacobian
    if not np.all(np.isfinite(knot_areas) & (knot_areas > 0)):
        raise InputError(f"rows {row0}–{row0 + rows - 1} of the grid lie outside the area where its CRS "
                         f"({crs.to_string()}) is defined, so their pixel areas are unknown")
    knot_areas = knot_areas[:, c_lo] * (1.0 - c_w) + knot_areas[:, c_hi] * c_w
    # Rows between two knot rows filled in place, segment by segment: the window-sized array is
    # the largest of a pass, and gathering it row by row costs ten times more.
    rises = np.diff(knot_areas, axis=0, append=knot_areas[-1:])
    first_rows = np.searchsorted(r_lo - used.start, np.arange(len(knot_areas) + 1))
    areas = np.empty((rows, width))
    for k, (begin, end) in enumerate(pairwise(first_rows)):
        np.multiply.outer(r_w[begin:end], rises[k], out=areas[begin:end])
        areas[begin:end] += knot_areas[k]
    return areas


def pixel_areas_m2(grid: Grid, row0: int = 0, rows: int | None = None, col0: int = 0,
                   cols: int | None = None) -> NDArray[np.float64]:
    """Area in m² of each pixel of ``rows`` rows of ``grid`` from row ``row0`` (default: to the
    last row) and ``cols`` columns from ``col0`` (default: to the last column): shape (rows, cols),
    or (rows, 1) where every pixel of a row has one area.

    Geographic CRS: the exact ellipsoidal area of each graticule cell, one per row (closed form
    through the authalic latitude). Projected CRS: the planar cell area divided by the
    projection's areal scale (pyproj ``Proj.get_factors``) at the pixel centre, so equal-area
    CRSs keep the planar area and Web Mercator or UTM come out as on the datum's ellipsoid. Rotated or
    sheared grids are refused for geographic CRS.
    """
    crs = _require_crs(grid)
    rows = grid.height - row0 if rows is None else rows
    if crs.is_geographic:
        return _geographic_row_areas(grid, row0, rows)[:, None]
    return _projected_pixel_areas(grid, row0, rows, col0, grid.width - col0 if cols is None else cols)


class AreaTally:
    """Areas of boolean masks on one grid, summed window by window under any keys (a year, a
    pair of years, "gain"): each True pixel counts its exact area in hectares, or 1 with
    ``unit="pixels"`` (for a grid without CRS)."""

    def __init__(self, grid: Grid, unit: str = "ha") -> None:
        if unit not in AREA_UNITS:
            raise ValueError(f"area unit '{unit}' is not one of {', '.join(AREA_UNITS)}")
        if unit == "ha":
            _require_crs(grid)
        self.grid = grid
        self.unit = unit
        self.totals: dict[Hashable, float | NDArray[np.float64]] = {}
        self._window: tuple[int, int, int, int] | None = None
        self._window_ha = np.ones((0, 1))

    def _areas_ha(self, row0: int, rows: int, col0: int, cols: int) -> NDArray[np.float64]:
        """Pixel areas of one window, kept while masks of the same window are added under other keys."""
        if self._window != (row0, rows, col0, cols):
            self._window_ha = (pixel_areas_m2(self.grid, row0, rows, col0, cols) / M2_PER_HA if self.unit == "ha"
                               else np.ones((rows, 1)))
            self._window = (row0, rows, col0, cols)
        return self._window_ha

    def add(self, key: Hashable, row0: int, mask: NDArray[np.bool_], col0: int = 0) -> None:
        """Add the area of ``mask`` (rows × cols, or a stack of them along leading axes, summed
        separately) whose first pixel is row ``row0``, column ``col0`` of the grid."""
        areas = self._areas_ha(row0, mask.shape[-2], col0, mask.shape[-1])
        if areas.shape[1] == 1:  # one area per row: counting pixels per row is cheaper still
            area = np.count_nonzero(mask, axis=-1) @ areas[:, 0]
        else:
            area = np.einsum("...ij,ij->...", mask, areas)
        self.totals[key] = self.totals.get(key, 0.0) + area

    def __getitem__(self, key: Hashable) -> float | NDArray[np.float64]:
        """The area summed under ``key`` (0 when nothing was added): a float, or one per mask of a stack."""
        total = self.totals.get(key, 0.0)
        return float(total) if np.ndim(total) == 0 else total
