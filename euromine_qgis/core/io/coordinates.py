"""Pixel coordinates to map coordinates (and back) through a grid's affine transform."""
from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from rasterio.transform import Affine

Coordinate = TypeVar("Coordinate", float, NDArray[np.float64])


def apply_affine(transform: Affine, x: Coordinate, y: Coordinate) -> tuple[Coordinate, Coordinate]:
    """``transform`` applied to the point(s) (``x``, ``y``): numbers, or numpy arrays of one shape.

    Written from the coefficients because affine 2.x (Debian 12's QGIS 3.22) has no ``@`` and
    affine 3 deprecates ``transform * (x, y)``; ``~transform`` maps back.
    """
    return (transform.a * x + transform.b * y + transform.c,
            transform.d * x + transform.e * y + transform.f)
