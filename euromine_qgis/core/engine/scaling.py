"""How an image's values meet the model's training data: the input settings (which bands, SCALE),
SCALE folded into the model's normalization, and a cheap check of each image's statistics.

SCALE multiplies the input before normalization. Scaling by s and then normalizing with (mean,
std) equals normalizing the raw values with (mean / s, std / s), so SCALE is a normalization
override (scaled_info) and the engine's loop stays as it is; nodata and the valid-pixel rule
still see the raw values.

The check (check_scaling) samples each image at a cost bounded whatever its size (sample_image):
decimated to at most SAMPLE_SIDE pixels a side where the file has overviews (GDAL reads one) or
holds few internal blocks, else SAMPLE_BLOCKS whole blocks (more where they are small) spread
over it. It takes each model band's median over the valid pixels and compares it with the model's
mean and std (SCALE applied). It warns, and never stops a run:

- when the typical band's median is SCALE_RATIO or more times off the model's mean, with the
  power of ten that brings it back (0–1 reflectance for a model trained on reflectance × 10000:
  ``SCALE=10000``; the reverse: ``SCALE=0.0001``);
- otherwise when a band's median lies more than Z_LIMIT standard deviations from the model's mean.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.windows import Window

from ..errors import InputError
from ..io.bands import BandedImage, BandItem
from ..io.raster import decimation, open_raster
from ..io.valid import valid_pixels
from ..progress import Reporter
from .contract import ModelInfo

SAMPLE_SIDE = 512
# Whole internal blocks the check decodes from a file without overviews, at least; more where the
# blocks are small (strips of a few rows), as many as hold SAMPLE_SIDE² pixels. A decimated read of
# such a file decodes every block (a 2000² DEFLATE scene: as long as the mapping's own decoding).
SAMPLE_BLOCKS = 8
# The i-th sampled block's column lies at the fractional part of i × GOLDEN across the block grid
# (an additive recurrence that spreads any count of points evenly), its row at (i + ½) / count.
GOLDEN = (math.sqrt(5) - 1) / 2
SCALE_RATIO = 100.0
Z_LIMIT = 4.0


@dataclass(frozen=True, kw_only=True)
class ImageInput:
    """How the model reads the images: the INPUT_BANDS mapping (None: by name or in order, see
    io.bands) and the SCALE the model was loaded with (scaled_info)."""

    bands: tuple[BandItem, ...] | None = None
    scale: float

    def settings(self) -> dict[str, Any]:
        """The two settings as a manifest records them."""
        return {"input_bands": list(self.bands) if self.bands else None, "scale": self.scale}


def check_scale(scale: float) -> None:
    """InputError unless SCALE is a positive finite number."""
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"SCALE {scale} must be a positive number (10000 for 0–1 reflectance)")


def scaled_info(info: ModelInfo, scale: float) -> ModelInfo:
    """``info`` with the normalization of raw values that the model should see multiplied by
    ``scale``: (raw × scale − mean) / std = (raw − mean / scale) / (std / scale)."""
    check_scale(scale)
    if scale == 1.0:
        return info
    return replace(info, mean=tuple(m / scale for m in info.mean), std=tuple(s / scale for s in info.std))


def sample_image(image: BandedImage, side: int = SAMPLE_SIDE) -> tuple[NDArray[Any], NDArray[np.bool_]] | None:
    """The selected bands of a bounded sample of ``image`` and its valid pixels (io.valid), or None
    when it cannot be read (the engine's own read then names the damaged rows). The sample is a
    decimated read (at most ``side`` pixels a side) where the file has overviews or few blocks,
    else whole internal blocks (sample_blocks) as one (C, 1, pixels) row, thinned to at most
    ``side``² pixels."""
    try:
        with open_raster(image.path) as src:
            indexes = list(image.indexes)
            blocks = sample_blocks(src, indexes[0], side)
            if blocks is None:
                _, height, width = decimation(src.height, src.width, side)
                data = src.read(indexes, out_shape=(len(indexes), height, width), resampling=Resampling.nearest)
            else:
                pixels = np.concatenate([src.read(indexes, window=w).reshape(len(indexes), 1, -1) for w in blocks],
                                        axis=2)
                data = pixels[:, :, ::max(1, math.ceil(pixels.shape[2] / side**2))]
    except OSError:  # rasterio's read errors: a damaged file, refused by the mapping that follows
        return None
    return data, valid_pixels(data, image.nodata)


def sample_blocks(src: DatasetReader, band: int, side: int = SAMPLE_SIDE) -> list[Window] | None:
    """The internal blocks of ``band`` the check reads from a file without overviews: SAMPLE_BLOCKS
    of them, or as many as hold ``side``² pixels where that is more, spread over the block grid;
    None where a decimated read costs about as much (overviews, or those blocks would be half the
    file's or more)."""
    block_height, block_width = src.block_shapes[band - 1]
    rows, columns = math.ceil(src.height / block_height), math.ceil(src.width / block_width)
    count = max(SAMPLE_BLOCKS, math.ceil(side**2 / (block_height * block_width)))
    if src.overviews(band) or 2 * count >= rows * columns:
        return None
    picked = dict.fromkeys((int((i + 0.5) * rows / count), int(i * GOLDEN % 1.0 * columns)) for i in range(count))
    return [src.block_window(band, row, column) for row, column in picked]


def sample_medians(data: NDArray[Any], valid: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    """The median of each band of a sample over its ``valid`` pixels, or None when none is valid."""
    if not valid.any():
        return None
    # on the values' own type: the median of integers is already float64, and a float64 copy of
    # the sample doubles its cost
    medians: NDArray[np.float64] = np.median(data[:, valid], axis=1).astype(np.float64)
    return medians


def band_medians(image: BandedImage, side: int = SAMPLE_SIDE) -> NDArray[np.float64] | None:
    """The median of each selected band over the valid pixels of a bounded sample (sample_image),
    or None when the sample holds no valid pixel or cannot be read."""
    sample = sample_image(image, side)
    return None if sample is None else sample_medians(*sample)


def scaling_problem(medians: NDArray[np.float64], info: ModelInfo, scale: float) -> str | None:
    """What looks wrong with band ``medians`` (raw values) for ``info``'s normalization (SCALE
    ``scale`` already folded in), or None."""
    mean, std = np.asarray(info.mean), np.asarray(info.std)
    comparable = (mean > 0) & (medians > 0)
    if comparable.any():
        ratio = float(np.median(medians[comparable] / mean[comparable]))
        if abs(math.log10(ratio)) >= math.log10(SCALE_RATIO):
            factor = 10.0 ** -round(math.log10(ratio))
            size = "smaller" if factor > 1 else "larger"
            return (f"its values are about {max(factor, 1 / factor):g} times {size} than model "
                    f"'{info.name}' expects (median {_figures(medians)}, model mean {_figures(mean)}); "
                    f"if it is reflectance {'in 0–1' if factor > 1 else '× 10000'} for a model of reflectance "
                    f"{'× 10000' if factor > 1 else 'in 0–1'}, set SCALE={scale * factor:g}")
    z = (medians - mean) / std
    far = np.flatnonzero(np.abs(z) > Z_LIMIT)
    if far.size:
        bands = ", ".join(f"{info.bands[i]} {z[i]:+.1f}" for i in far)
        return (f"band(s) far outside model '{info.name}''s training data (median z-score beyond ±{Z_LIMIT:g}: "
                f"{bands}); check INPUT_BANDS, SCALE and the image's processing level")
    return None


def _figures(values: NDArray[np.float64]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def check_scaling(images: Sequence[BandedImage], info: ModelInfo, scale: float,
                  reporter: Reporter = Reporter()) -> list[str]:
    """Sample every image and warn (through ``reporter``) about each whose values do not look
    like the model's training data; returns the warnings."""
    warnings = []
    for image in images:
        medians = band_medians(image)
        problem = None if medians is None else scaling_problem(medians, info, scale)
        if problem:
            warnings.append(f"{image.path}: {problem}")
            reporter.warn(warnings[-1])
    return warnings


def check_inputs(images: Sequence[BandedImage], info: ModelInfo, scale: float,
                 reporter: Reporter = Reporter()) -> list[str]:
    """Log which bands feed the model from each image (once per distinct choice) and SCALE, then
    check_scaling; returns the warnings."""
    choices: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for image in images:
        choices.setdefault((image.how, image.indexes), []).append(image.path.name)
    for (how, indexes), names in choices.items():
        picked = ", ".join(f"{band}={index}" for band, index in zip(info.bands, indexes, strict=True))
        reporter.info(f"Bands {how}: {picked} ({len(names)} image(s): {', '.join(names[:3])}"
                      f"{', …' if len(names) > 3 else ''})")
    if scale != 1.0:
        reporter.info(f"SCALE {scale:g}: the model sees the images' values × {scale:g}")
    return check_scaling(images, info, scale, reporter)
