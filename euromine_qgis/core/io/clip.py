"""Cutting a site outline out of an annual mosaic.

Done here with rasterio windows and a polygon mask rather than with gdal:cliprasterbymasklayer:
the clip keeps the mosaic's own pixel grid (no resampling, so footprints line up with the mosaic
and every year of a site shares one grid when the mosaics do), reads only the outline's window
in strips (memory bounded by strip × width), and runs without QGIS.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import CRSError, WindowError
from rasterio.features import bounds, geometry_mask
from rasterio.warp import transform_geom
from rasterio.windows import Window, from_bounds
from rasterio.windows import transform as window_transform

from ..errors import InputError, first_line
from .outputs import atomic_outputs
from .raster import RASTERIO_ERRORS, open_raster, read_window

STRIP_ROWS = 512
EDGE_TOLERANCE = 1e-6  # pixels
DEFAULT_NODATA = 0  # Sentinel-2 L2A digital numbers: 0 marks no data


def clip_mosaic(mosaic: Path, geometry: Mapping[str, Any], crs: str, target: Path) -> Path:
    """Write the part of ``mosaic`` under ``geometry`` (GeoJSON in ``crs``) to ``target``.

    The output is the outline's bounding window on the mosaic's grid, every band kept; pixels
    outside the outline are nodata (the mosaic's nodata value, else 0, declared as nodata). An
    outline that does not overlap the mosaic is an InputError naming both.
    """
    try:
        src_crs = CRS.from_user_input(crs)
    except CRSError as exc:  # an unknown code or bad WKT
        raise InputError(f"site outline CRS '{crs[:80]}' is not understood ({exc})") from exc
    try:
        src = open_raster(mosaic)
    except RASTERIO_ERRORS as exc:
        raise InputError(f"{mosaic}: not a readable raster ({first_line(exc)})") from exc
    with src:
        if src.crs is None:
            raise InputError(f"{mosaic}: mosaic has no CRS, so site outlines cannot be placed on it")
        shape = transform_geom(src_crs, src.crs, geometry) if src_crs != src.crs else dict(geometry)
        window = _pixel_window(from_bounds(*bounds(shape), transform=src.transform))
        try:
            window = window.intersection(Window(0, 0, src.width, src.height))
        except WindowError:
            window = Window(0, 0, 0, 0)
        if window.width == 0 or window.height == 0:
            raise InputError(f"{mosaic}: the site outline does not overlap this mosaic")
        nodata = src.nodata if src.nodata is not None else DEFAULT_NODATA
        profile = {**src.profile, "driver": "GTiff", "width": window.width, "height": window.height,
                   "transform": window_transform(window, src.transform), "nodata": nodata,
                   "compress": "deflate"}
        for key in ("blockxsize", "blockysize", "tiled", "interleave", "photometric"):
            profile.pop(key, None)
        with atomic_outputs([Path(target)]) as (temp,), rasterio.open(temp, "w", **profile) as dst:
            for row0 in range(0, window.height, STRIP_ROWS):
                strip = Window(window.col_off, window.row_off + row0, window.width,
                               min(STRIP_ROWS, window.height - row0))
                data = read_window(src, strip)
                outside = geometry_mask([shape], out_shape=data.shape[1:],
                                        transform=window_transform(strip, src.transform))
                data[:, outside] = np.asarray(nodata).astype(data.dtype)
                dst.write(data, window=Window(0, row0, window.width, strip.height))
            for band, description in enumerate(src.descriptions, start=1):
                if description:
                    dst.set_band_description(band, description)
    return Path(target)


def _pixel_window(window: Window) -> Window:
    """The whole pixels a fractional window touches; an edge within EDGE_TOLERANCE of a pixel
    edge (reprojection noise) counts as on it."""
    left, top = (math.floor(v + EDGE_TOLERANCE) for v in (window.col_off, window.row_off))
    right = math.ceil(window.col_off + window.width - EDGE_TOLERANCE)
    bottom = math.ceil(window.row_off + window.height - EDGE_TOLERANCE)
    return Window(left, top, max(right - left, 0), max(bottom - top, 0))
