"""Rendered sites for measuring a model's receptive field (core.engine.receptive_field).

Random scenes do not move a trained model's output as far as a landscape with a mine does: on a
generated site the change model's tiles differed from whole-scene inference by 0.01 in
probability 56-167 px from their cut edges while the random scenes had bounded its field at
55 px. So every export and every validation also measures on a generated site of each scene
side, normalized as the engine normalizes (nodata enters as zero).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from euromine_qgis.core.engine.contract import ModelInfo
from euromine_qgis.core.io.valid import valid_pixels
from export.synthetic import IMAGE_NODATA, simulate_site

SITE_SEED = 424242
# years far enough apart that the mine changed between them (the first and last for a pair)
YEARS = (2016, 2019, 2023)


@lru_cache(maxsize=8)
def _site_images(side: int, images: int) -> tuple[np.ndarray, ...]:
    years = (YEARS[0], YEARS[-1]) if images == 2 else YEARS[:images]
    site = simulate_site(SITE_SEED, size=(side, side), years=years)
    return tuple(site.images[y] for y in years)


def site_scenes(info: ModelInfo):
    """``more_scenes`` for receptive_field.measure: one generated site per side, ``images`` years of
    it stacked as the model takes them, normalized with ``info``'s mean and std (none for a model
    that does not take the generator's 10 bands)."""
    mean = np.asarray(info.mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(info.std, np.float32).reshape(-1, 1, 1)

    def scenes(side: int, images: int) -> list[np.ndarray]:
        if len(info.bands) != len(mean) or len(info.bands) != 10:  # the generator renders 10 Sentinel-2 bands
            return []
        stack = []
        for raw in _site_images(side, images):
            x = (raw.astype(np.float32) - mean) / std
            x[:, ~valid_pixels(raw, IMAGE_NODATA)] = 0.0
            stack.append(x)
        return [np.concatenate(stack)[None].astype(np.float32)]

    return scenes
