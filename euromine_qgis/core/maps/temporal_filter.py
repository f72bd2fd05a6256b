"""Temporal filters that make annual maps consistent over the years, per pixel: the rule, and
the pass that filters every year's mapped probabilities into the final footprints.

Rule of ``smooth3`` and ``smooth5`` (window w = 3 or 5): for a pixel with valid years
v_1 < … < v_n (nodata years are skipped, never counted as 0) and a valid year v_i, the window
is the w consecutive valid years centred on v_i, shifted inward at the ends so that it always
holds min(w, n) valid years: v_s … v_{s+w−1} with s = clamp(i − (w−1)/2, 1, n − w + 1), or all
n years when n < w. Then

- probabilities (mapfootprints): the mean probability over the window, thresholded as usual
  (mining where mean ≥ THRESHOLD);
- masks (changelayers): the majority of the window; a tie (possible only when n < w and n is
  even) keeps the year's own value.

A nodata year stays nodata. ``none`` leaves the maps as they are.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray

from ..errors import InputError
from ..io.area import AreaTally
from ..io.masks import block_windows, window_rows
from ..io.outputs import atomic_outputs
from ..io.raster import (
    Grid,
    footprint_profile,
    footprint_values,
    open_raster,
    probability_profile,
    read_window,
    write_probability,
)
from ..progress import Reporter

FILTER_WIDTHS = {"none": 1, "smooth3": 3, "smooth5": 5}
TEMPORAL_FILTERS = tuple(FILTER_WIDTHS)


def filter_width(name: str) -> int:
    """The window width of the filter called ``name``; InputError for an unknown name."""
    if name not in FILTER_WIDTHS:
        raise InputError(f"TEMPORAL_FILTER '{name}' is not one of {', '.join(TEMPORAL_FILTERS)}")
    return FILTER_WIDTHS[name]


def window_sums(values: NDArray[np.float32] | NDArray[np.bool_], valid: NDArray[np.bool_],
                width: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per year and pixel, the sum of ``values`` over the year's window of valid years (see the
    module rule) and the number of years in it, for a (T, rows, cols) stack. Both are 0 where
    the year is nodata."""
    half = (width - 1) // 2
    # Valid years first, in year order: a pixel's k-th valid value sits at index k.
    order = np.argsort(~valid, axis=0, kind="stable")
    packed = np.where(np.take_along_axis(valid, order, 0), np.take_along_axis(values, order, 0), 0)
    cumulative = np.concatenate([np.zeros((1, *values.shape[1:]), np.float64),
                                 np.cumsum(packed, axis=0, dtype=np.float64)])
    n = valid.sum(axis=0)
    rank = np.cumsum(valid, axis=0) - 1
    start = np.clip(rank - half, 0, np.maximum(n - width, 0))
    stop = np.minimum(start + width, n)
    sums = np.take_along_axis(cumulative, stop, 0) - np.take_along_axis(cumulative, start, 0)
    counts = (stop - start).astype(np.int64)
    return np.where(valid, sums, 0.0), np.where(valid, counts, 0)


def smooth_probabilities(probability: NDArray[np.float32], valid: NDArray[np.bool_], width: int) -> NDArray[np.float32]:
    """Mean probability over each valid year's window (float32, NaN where nodata)."""
    sums, counts = window_sums(probability, valid, width)
    smoothed: NDArray[np.float32] = np.where(valid, sums / np.maximum(counts, 1), np.nan).astype(np.float32)
    return smoothed


def filter_masks(mined: NDArray[np.bool_], valid: NDArray[np.bool_], width: int) -> NDArray[np.bool_]:
    """Majority of each valid year's window (ties keep the year's own value); False where nodata."""
    sums, counts = window_sums(mined, valid, width)
    twice = 2 * np.rint(sums).astype(np.int64)
    majority: NDArray[np.bool_] = valid & ((twice > counts) | ((twice == counts) & mined))
    return majority


def filter_probability_rasters(
    sources: Sequence[Path],
    grid: Grid,
    width: int,
    threshold: float,
    footprints: Sequence[Path],
    probability_files: Sequence[Path],
    probabilities: str | None,
    reporter: Reporter,
) -> list[tuple[float, int, int]]:
    """Filter the float32 probability rasters ``sources`` (one per year, NaN nodata) into the
    final footprint (and optional probability) rasters, in windows (io.masks.block_windows); returns (mining hectares,
    mining pixels, valid pixels) per year."""
    tally = AreaTally(grid)
    mining_pixels = np.zeros(len(sources), np.int64)
    valid_pixels = np.zeros(len(sources), np.int64)
    with atomic_outputs([*footprints, *probability_files]) as temps, ExitStack() as stack:
        srcs = [stack.enter_context(open_raster(p)) for p in sources]
        masks_out = [stack.enter_context(rasterio.open(t, "w", **footprint_profile(grid)))
                     for t in temps[:len(footprints)]]
        probs_out = [stack.enter_context(rasterio.open(t, "w", **probability_profile(grid, probabilities)))
                     for t in temps[len(footprints):]] if probabilities is not None else []
        for window in block_windows(grid, window_rows(grid, srcs[0].block_shapes[0][0]), reporter):
            probability = np.stack([read_window(src, window, 1) for src in srcs])
            valid = ~np.isnan(probability)
            smoothed = smooth_probabilities(probability, valid, width)
            mining = valid & (smoothed >= threshold)
            for t, dst in enumerate(masks_out):
                dst.write(footprint_values(mining[t], valid[t]), 1, window=window)
            for t, dst in enumerate(probs_out):
                write_probability(dst, np.nan_to_num(smoothed[t]), valid[t], window)
            tally.add("mining", window.row_off, mining, window.col_off)
            mining_pixels += np.count_nonzero(mining, axis=(1, 2))
            valid_pixels += np.count_nonzero(valid, axis=(1, 2))
    areas = np.asarray(tally["mining"])
    return [(float(ha), int(m), int(v)) for ha, m, v in zip(areas, mining_pixels, valid_pixels, strict=True)]
