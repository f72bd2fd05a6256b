"""The valid-pixel rule of multi-band images, shared by the engine, training and validation.

A pixel of a (C, H, W) image is valid unless

- any band holds the image's declared nodata value,
- any band is not finite (NaN or ±inf, in float images), or
- every band is exactly 0: the fill that Sentinel-2 mosaics and the EuroMineNet release leave
  outside the acquisition when they declare no nodata. No real 10-band observation is zero in
  every band.

Invalid pixels are nodata (255) in footprints, never count in areas or scores, are ignored by
the training loss and enter a model as the band mean (zero once normalized).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray


def valid_pixels(data: NDArray[Any], nodata: float | None) -> NDArray[np.bool_]:
    """(H, W) boolean mask of the valid pixels of a (C, H, W) image with declared ``nodata``."""
    valid: NDArray[np.bool_] = np.ones(data.shape[1:], bool)
    check_value = nodata is not None and not math.isnan(nodata)
    # with nodata 0, "no band is 0" already says "some band is not 0": one comparison per band
    any_nonzero: NDArray[np.bool_] | None = None if check_value and nodata == 0 else np.zeros(data.shape[1:], bool)
    check_finite = np.issubdtype(data.dtype, np.floating)
    for band in data:  # band by band: no (C, H, W) boolean temporary
        if check_value:
            valid &= band != nodata
        if check_finite:
            valid &= np.isfinite(band)
        if any_nonzero is not None:
            any_nonzero |= band != 0
    return valid if any_nonzero is None else valid & any_nonzero
