"""Minimum mapping unit (MIN_AREA_HA): connected mining patches and holes smaller than an area are
removed from finished footprint masks with GDAL's sieve filter (``rasterio.features.sieve``).

Rules:

- Pixels from area: the threshold in pixels is ceil(MIN_AREA_HA / mean pixel area), with the mean
  over every pixel of the grid from its exact pixel areas (``io.area.pixel_areas_m2``). A patch
  of n pixels is kept when n × mean pixel area ≥ MIN_AREA_HA. Within one site the pixel areas
  differ by far less than a pixel's share of a patch (about 0.1 % over 10 km of latitude), so one
  threshold per raster serves.
- 4-connectivity, the connectivity of the polygons (``gdal:polygonize`` without
  EIGHT_CONNECTEDNESS): every mining polygon drawn from a sieved mask holds at least the threshold.
- Holes too: GDAL merges a small patch of either value into its largest neighbouring patch, so
  a small non-mining hole inside mining becomes mining.
- Nodata is never changed and never a neighbour (sieve's ``mask``): footprints do not grow into
  nodata, and a small patch whose only neighbours are nodata is kept.
- Order: after the temporal filter, on the final per-year masks, so that the maps written hold
  no patch below the unit.

Sieving needs whole neighbourhoods, so it reads one year's whole uint8 mask into memory (plus
GDAL's own labels): one byte per pixel of the site or scene, unlike the streaming passes.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.features import sieve
from rasterio.windows import Window

from ..errors import InputError
from ..io.area import M2_PER_HA, AreaTally, pixel_areas_m2
from ..io.masks import MaskInfo, block_windows, read_stack, window_rows
from ..io.raster import FOOTPRINT_NODATA, Grid, footprint_profile, footprint_values, open_raster, read_window
from ..progress import Reporter
from .temporal_filter import filter_masks

CONNECTIVITY = 4
AREA_ROWS = 1024  # rows of pixel areas computed at once (float64 per pixel)


def check_min_area(min_area_ha: float) -> None:
    """InputError unless MIN_AREA_HA is a finite number ≥ 0."""
    if not (math.isfinite(min_area_ha) and min_area_ha >= 0.0):
        raise InputError(f"MIN_AREA_HA {min_area_ha} must be a number of hectares ≥ 0")


def mean_pixel_area_m2(grid: Grid) -> float:
    """The mean exact pixel area of ``grid`` in m² (computed in bands of rows)."""
    total = 0.0
    for row0 in range(0, grid.height, AREA_ROWS):
        rows = min(AREA_ROWS, grid.height - row0)
        areas = pixel_areas_m2(grid, row0, rows)
        total += float(areas.sum()) * (grid.width if areas.shape[1] == 1 else 1)
    return total / (grid.width * grid.height)


def min_area_pixels(grid: Grid, min_area_ha: float) -> int:
    """The sieve threshold in pixels for ``min_area_ha`` on ``grid`` (see the module rule); 1 or
    less keeps every patch."""
    check_min_area(min_area_ha)
    if min_area_ha == 0.0:
        return 0
    # the tolerance keeps a patch of exactly the area when the division rounds up by an ulp
    return math.ceil(min_area_ha * M2_PER_HA / mean_pixel_area_m2(grid) - 1e-9)


def sieve_mask(values: NDArray[np.uint8], min_pixels: int) -> NDArray[np.uint8]:
    """A copy of a uint8 footprint (0/1, nodata 255) without 4-connected patches of mining or
    non-mining smaller than ``min_pixels``; nodata pixels are left as they are."""
    if min_pixels <= 1:
        return values.copy()
    sieved: NDArray[np.uint8] = sieve(values, min_pixels, mask=values != FOOTPRINT_NODATA, connectivity=CONNECTIVITY)
    return sieved


def sieve_footprint_file(path: Path, grid: Grid, min_pixels: int) -> tuple[float, int]:
    """Sieve the footprint GeoTIFF ``path`` (0/1, nodata 255, on ``grid``) in place; returns its
    mining hectares and pixels afterwards. Give it a temporary path of ``io.outputs.atomic_outputs``:
    the sieved copy is written beside it and renamed over it."""
    with open_raster(path) as src:
        values = read_window(src, Window(0, 0, grid.width, grid.height), 1)
    sieved = sieve_mask(values, min_pixels)
    del values
    partial = path.with_name(f"{path.stem}.sieving{path.suffix}")
    try:
        with rasterio.open(partial, "w", **footprint_profile(grid)) as dst:
            dst.write(sieved, 1)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    tally = AreaTally(grid)
    for row0 in range(0, grid.height, AREA_ROWS):
        tally.add("mining", row0, sieved[row0:row0 + AREA_ROWS] == 1)
    return float(tally["mining"]), int(np.count_nonzero(sieved == 1))


def write_sieved_masks(infos: Sequence[MaskInfo], years: Sequence[int], grid: Grid, filter_years: int,
                       min_area_ha: float, work: Path, reporter: Reporter) -> list[tuple[int, Path]]:
    """Each year's mask of ``infos`` (by the mask rule, temporal filter of ``filter_years``
    applied first) as a 0/1/255 footprint in ``work``, sieved to ``min_area_ha``; returns (year,
    path) pairs. One streaming pass of windows, then one year in memory at a time."""
    paths = [work / f"footprint_{year}.tif" for year in years]
    with ExitStack() as stack:
        dsts = [stack.enter_context(rasterio.open(p, "w", **footprint_profile(grid))) for p in paths]
        for window in block_windows(grid, window_rows(grid, max(i.block_rows for i in infos)),
                                    reporter.sub_range(0.0, 50.0)):
            mined, valid = read_stack(infos, window)
            if filter_years > 1:
                mined = filter_masks(mined, valid, filter_years)
            for t, dst in enumerate(dsts):
                dst.write(footprint_values(mined[t], valid[t]), 1, window=window)
    pixels = min_area_pixels(grid, min_area_ha)
    reporter.info(f"Minimum mapping unit {min_area_ha:g} ha = {pixels} pixels; smaller patches and holes "
                  "removed (4-connected)")
    for n, path in enumerate(paths):
        reporter.check()
        sieve_footprint_file(path, grid, pixels)
        reporter.progress(50.0 + 50.0 * (n + 1) / len(paths))
    return list(zip(years, paths, strict=True))
