"""Imagery as users download it, made from a generated site's 10-band image: a 13-band L2A stack
in another band order with Copernicus-style names (or none), and a float32 0–1 reflectance copy."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio

from euromine_qgis.core import release

# A Sentinel-2 L2A export: the model's ten bands, B1, B9 and the scene classification (SCL), shuffled.
L2A_ORDER = ("SCL", "B12", "B1", "B04", "B8A", "B02", "B09", "B11", "B06", "B03", "B08", "B05", "B07")


# The L2A names of the release's bands (the rest of L2A_ORDER are extras the model does not use).
RELEASE_NAME = {"B02": "B2", "B03": "B3", "B04": "B4", "B05": "B5", "B06": "B6", "B07": "B7", "B08": "B8",
                "B8A": "B8A", "B11": "B11", "B12": "B12"}


def l2a_stack(image: Path, target: Path, names: Sequence[str | None] | None = L2A_ORDER) -> Path:
    """``image`` (10 bands in release order) as a 13-band stack in L2A_ORDER, described by ``names``
    (None: no band descriptions). B1 and B9 are made from B2 and B8A; SCL is 0 ("no data") in the
    top rows and 4 elsewhere, so a valid-pixel rule that looked at every band would drop those rows."""
    with rasterio.open(image) as src:
        data, profile = src.read(), src.profile
    bands = {b: data[i] for i, b in enumerate(release.BANDS)}
    extra = {"B1": (bands["B2"] * 0.9).astype(data.dtype), "B09": (bands["B8A"] * 0.3).astype(data.dtype),
             "SCL": np.full_like(bands["B2"], 4)}
    extra["SCL"][: data.shape[1] // 4] = 0
    stack = np.stack([bands[RELEASE_NAME[b]] if b in RELEASE_NAME else extra[b] for b in L2A_ORDER])
    profile.update(count=len(L2A_ORDER))
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(stack)
        for index, name in enumerate(names or (), start=1):
            dst.set_band_description(index, name)
    return target


def l2a_numbers() -> list[int]:
    """The 1-based bands of an l2a_stack that hold the release's bands, in release order."""
    names = [RELEASE_NAME.get(b) for b in L2A_ORDER]
    return [names.index(band) + 1 for band in release.BANDS]


def reflectance_copy(image: Path, target: Path) -> Path:
    """``image`` (int16 reflectance × 10000) as float32 reflectance in 0–1, same grid and nodata."""
    with rasterio.open(image) as src:
        data, profile, descriptions = src.read(), src.profile, src.descriptions
    profile.update(dtype="float32", predictor=1)
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data.astype(np.float32) / np.float32(10000))
        for index, name in enumerate(descriptions, start=1):
            if name:
                dst.set_band_description(index, name)
    return target


ROUNDING = 1e-3  # a float 0–1 copy × 10000 differs from the int16 original by float rounding only


def flips_only_at_threshold(footprint: Path, reference: Path, probability: Path) -> bool:
    """Whether ``footprint`` equals ``reference`` except at pixels whose ``probability`` (of either
    run) lies within ROUNDING of the threshold 0.5, where float rounding may tip a pixel."""
    with rasterio.open(footprint) as a, rasterio.open(reference) as b, rasterio.open(probability) as p:
        differ = a.read(1) != b.read(1)
        return bool(np.all(np.abs(p.read(1)[differ] - 0.5) < ROUNDING))


def sieved_footprint(footprint: Path, min_area_ha: float) -> np.ndarray:
    """``footprint``'s values as MIN_AREA_HA ``min_area_ha`` leaves them (maps.min_area's rule)."""
    from euromine_qgis.core.io.raster import Grid
    from euromine_qgis.core.maps.min_area import min_area_pixels, sieve_mask

    with rasterio.open(footprint) as src:
        grid = Grid(src.crs, src.transform, src.width, src.height)
        return sieve_mask(src.read(1), min_area_pixels(grid, min_area_ha))
