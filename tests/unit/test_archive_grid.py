"""The output grid: the UTM zone of the site's centre, bounds on multiples of the resolution that
cover the site."""
from __future__ import annotations

import pytest

from euromine_qgis.core.archive.grid import site_crs, site_grid, utm_crs
from euromine_qgis.core.archive.run import grid_bounds
from euromine_qgis.core.errors import InputError


def test_utm_zones():
    assert utm_crs(15.0, 50.0) == "EPSG:32633"
    assert utm_crs(-3.7, 40.4) == "EPSG:32630"
    assert utm_crs(-70.0, -33.0) == "EPSG:32719"
    assert utm_crs(180.0, 10.0) == "EPSG:32660"


def test_the_grid_covers_the_box_on_multiples_of_the_resolution():
    box = (15.001, 49.97, 15.02, 49.98)
    for resolution in (10.0, 20.0, 30.0):
        grid = site_grid(box, site_crs(box, ""), resolution)
        left, bottom, right, top = grid_bounds(grid)
        assert all(v % resolution == 0 for v in (left, bottom, right, top))
        assert grid.transform.a == resolution and grid.transform.e == -resolution
        from pyproj import Transformer
        west, south, east, north = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform_bounds(
            *box)
        assert left <= west < left + resolution and right - resolution < east <= right
        assert bottom <= south < bottom + resolution and top - resolution < north <= top


def test_a_crs_must_be_projected():
    assert site_crs((0, 0, 1, 1), "EPSG:3035") == "EPSG:3035"
    with pytest.raises(InputError, match="projected"):
        site_crs((0, 0, 1, 1), "EPSG:4326")
    with pytest.raises(InputError, match="CRS 'nonsense'"):
        site_crs((0, 0, 1, 1), "nonsense")


def test_bounds_given_in_the_output_crs_are_kept_as_they_are():
    native = ("EPSG:32633", (500000.0, 5536000.0, 500500.0, 5536400.0))
    box = (14.99, 49.96, 15.01, 49.98)  # the lon/lat box of a wider area: not used when the CRS is the same
    grid = site_grid(box, "EPSG:32633", 10.0, native)
    assert grid_bounds(grid) == native[1] and (grid.width, grid.height) == (50, 40)
    other = site_grid(box, "EPSG:3035", 10.0, native)
    assert other.crs.to_epsg() == 3035 and other.width > 50
