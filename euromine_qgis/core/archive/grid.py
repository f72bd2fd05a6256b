"""The output grid of a site: in CRS (default: the UTM zone of the site's centre) at RESOLUTION,
its bounds multiples of the resolution that cover the site's extent."""
from __future__ import annotations

import math

import pyproj
from pyproj import Transformer
from pyproj.exceptions import CRSError
from rasterio.crs import CRS
from rasterio.transform import from_origin

from ..errors import InputError
from ..io.raster import Grid

WGS84 = "EPSG:4326"
BOUNDS_DENSITY = 21  # points per edge when the lon/lat box is projected (its edges bend)


def utm_crs(lon: float, lat: float) -> str:
    """The WGS 84 / UTM zone of a point: ``EPSG:326zz`` north of the equator, ``EPSG:327zz`` south."""
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def site_crs(bbox: tuple[float, float, float, float], crs: str) -> str:
    """``crs`` when given (checked), else the UTM zone of the centre of the lon/lat ``bbox``."""
    if not crs.strip():
        return utm_crs((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0)
    try:
        parsed = pyproj.CRS.from_user_input(crs.strip())
    except CRSError as exc:
        raise InputError(f"CRS '{crs}': not a coordinate reference system ({exc})") from exc
    if not parsed.is_projected:
        raise InputError(f"CRS '{crs}': choose a projected CRS in metres (e.g. a UTM zone); RESOLUTION is in its units")
    return crs.strip()


def site_grid(bbox: tuple[float, float, float, float], crs: str, resolution: float,
              native: tuple[str, tuple[float, float, float, float]] | None = None) -> Grid:
    """The grid in ``crs`` at ``resolution`` whose bounds are multiples of it and cover the lon/lat ``bbox``
    (or, where ``native`` gives the site's bounds in ``crs`` itself, those bounds: no round trip through
    lon/lat widens them)."""
    if resolution <= 0:
        raise InputError(f"RESOLUTION {resolution:g}: must be more than 0")
    if native is not None and pyproj.CRS.from_user_input(native[0]) == pyproj.CRS.from_user_input(crs):
        west, south, east, north = native[1]
    else:
        to_crs = Transformer.from_crs(WGS84, crs, always_xy=True)
        west, south, east, north = to_crs.transform_bounds(*bbox, densify_pts=BOUNDS_DENSITY)
    left, bottom = math.floor(west / resolution) * resolution, math.floor(south / resolution) * resolution
    right, top = math.ceil(east / resolution) * resolution, math.ceil(north / resolution) * resolution
    width, height = max(1, round((right - left) / resolution)), max(1, round((top - bottom) / resolution))
    return Grid(CRS.from_user_input(crs), from_origin(left, top, resolution, resolution), width, height)
