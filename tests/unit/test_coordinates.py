"""Applying a grid's affine transform to coordinates, the same on affine 2 (no ``@``) and affine 3
(``*`` deprecated), without a warning on either."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from rasterio.transform import Affine

from euromine_qgis.core.io.coordinates import apply_affine

# rotated and sheared, so that every coefficient counts
TRANSFORM = Affine(2.0, 0.5, 100.0, 0.25, -3.0, 50.0)


def test_points_and_arrays():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # affine 3 warns about transform * (x, y); this must not
        assert apply_affine(TRANSFORM, 1.0, 2.0) == (103.0, 44.25)
        xs, ys = apply_affine(TRANSFORM, np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]]))
    assert xs.tolist() == [[100.0, 103.0]] and ys.tolist() == [[50.0, 44.25]]


def test_inverse_maps_back():
    x, y = apply_affine(~TRANSFORM, *apply_affine(TRANSFORM, 12.5, -7.0))
    assert (x, y) == (pytest.approx(12.5), pytest.approx(-7.0))
