"""The composites the generated scenes must give, computed with numpy from the files the generator
wrote (read locally, not over HTTP) and what it knows of each item (the offset its DNs really
carry), independently of the implementation and of the items' metadata.

Per year: the scenes within the months with cloud cover at most MAX_CLOUD; 20 m bands and SCL
brought to 10 m by repeating each pixel 2 x 2 (nearest on the aligned grids); an observation of a
band is clear where SCL is not excluded and the band is not 0; the composite is numpy's median of
the clear observations (the mean of the two middle ones for an even count) rounded half to even,
with the offset removed, clipped to at least 1; 0 where a pixel has no clear observation. All on
the scene's 10 m grid; a test cuts the output's window out of it.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from tests.stac.scenes import BANDS, EXCLUDED_SCL, SCENE_GRID, Grid, ShapeCatalogue, Written


@dataclass(frozen=True)
class Expected:
    """A year's expected composite (10, H, W) int16, its clear counts per band (10, H, W) uint16,
    the counts of observations with SCL clear (H, W) and of those clear in every band (H, W), the
    items used, and the 10 m grid's transform."""

    image: np.ndarray
    clear: np.ndarray
    scl_clear: np.ndarray
    every_band_clear: np.ndarray
    items: list[str]
    transform: rasterio.Affine


def used(written: Iterable[Written], year: int, months: tuple[int, int] = (4, 10),
         max_cloud: float = 80.0) -> list[Written]:
    """The items a composite of ``year`` uses."""
    return [w for w in written if w.scene.when.year == year and months[0] <= w.scene.when.month <= months[1]
            and w.scene.cloud_cover <= max_cloud]


def _read(data_root: Path, rel: str) -> np.ndarray:
    with rasterio.open(data_root / rel) as src:
        array = src.read(1)
    return array


def _at_10m(array: np.ndarray, resolution: int) -> np.ndarray:
    factor = resolution // 10
    return np.repeat(np.repeat(array, factor, 0), factor, 1) if factor > 1 else array


def expected_year(catalogue: ShapeCatalogue, data_root: Path, year: int, months: tuple[int, int] = (4, 10),
                  max_cloud: float = 80.0, excluded_scl: tuple[int, ...] = EXCLUDED_SCL,
                  grid: Grid = SCENE_GRID) -> Expected:
    """The expected composite of ``year`` (see the module's docstring)."""
    items = used(catalogue.written, year, months, max_cloud)
    h, w = grid.shape(10)
    image = np.zeros((len(BANDS), h, w), np.int16)
    clear = np.zeros((len(BANDS), h, w), np.uint16)
    scls = [_at_10m(_read(data_root, i.files["SCL"]), 20) for i in items]
    scl_ok = np.stack([~np.isin(s, excluded_scl) for s in scls]) if items else np.zeros((0, h, w), bool)
    every_band = scl_ok.copy()
    for b, band in enumerate(BANDS):
        if not items:
            continue
        dn = np.stack([_at_10m(_read(data_root, i.files[band.name]), band.resolution)
                       for i in items]).astype(np.float64)
        ok = scl_ok & (dn != 0)
        every_band &= dn != 0
        harmonised = dn - np.array([i.offset_dn for i in items], np.float64)[:, None, None]
        with warnings.catch_warnings():  # pixels without a clear observation: NaN, then 0
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(np.where(ok, harmonised, np.nan), axis=0)
        count = ok.sum(axis=0)
        value = np.where(count > 0, np.clip(np.rint(np.nan_to_num(median, nan=0.0)), 1, 32767), 0)
        image[b] = value.astype(np.int16)
        clear[b] = count.astype(np.uint16)
    return Expected(image, clear, scl_ok.sum(axis=0).astype(np.uint16), every_band.sum(axis=0).astype(np.uint16),
                    [i.item_id for i in items], grid.transform(10))


def window_of(expected: Expected, transform: rasterio.Affine, height: int, width: int) -> tuple[slice, slice]:
    """The rows and columns of the expected arrays under an output grid (same 10 m pixels; its
    origin must fall on the scene grid's pixel corners)."""
    col = (transform.c - expected.transform.c) / expected.transform.a
    row = (transform.f - expected.transform.f) / expected.transform.e
    assert col == round(col) and row == round(row), "the output grid is not aligned on the scenes' 10 m pixels"
    r, c = int(round(row)), int(round(col))
    assert r >= 0 and c >= 0 and r + height <= expected.image.shape[1] and c + width <= expected.image.shape[2], \
        "the output grid reaches beyond the generated scenes"
    return slice(r, r + height), slice(c, c + width)


def share_within(got: np.ndarray, want: np.ndarray, tolerance: int = 1) -> float:
    """The share of values of ``got`` within ``tolerance`` of ``want``."""
    return float(np.mean(np.abs(got.astype(np.int32) - want.astype(np.int32)) <= tolerance))
