import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.area import M2_PER_HA, AreaTally, row_pixel_areas_m2
from euromine_qgis.core.io.raster import Grid

pyproj = pytest.importorskip("pyproj")


@pytest.mark.parametrize("lat", [0.0, 37.5, 50.0, 65.9, -45.0])
def test_geographic_rows_match_geodesic_polygons(lat):
    dx, dy = 10 / (111320 * np.cos(np.radians(lat))), 10 / 110574
    grid = Grid(CRS.from_epsg(4326), from_origin(12.0, lat + 5 * dy, dx, dy), 3, 5)
    areas = row_pixel_areas_m2(grid)
    geod = pyproj.Geod(ellps="WGS84")
    for r in range(5):
        top, bottom = lat + (5 - r) * dy, lat + (4 - r) * dy
        expected, _ = geod.polygon_area_perimeter([12.0, 12.0 + dx, 12.0 + dx, 12.0], [bottom, bottom, top, top])
        assert areas[r] == pytest.approx(abs(expected), rel=1e-7)
    assert areas == pytest.approx(100.0, rel=0.02)  # ~10 m pixels (spherical estimate of dx, dy)


def test_whole_earth():
    grid = Grid(CRS.from_epsg(4326), from_origin(-180, 90, 360, 180), 1, 1)
    assert row_pixel_areas_m2(grid)[0] == pytest.approx(510_065_621.7e6, rel=1e-9)


def test_projected_grid_area_and_units():
    assert np.all(row_pixel_areas_m2(Grid(CRS.from_epsg(32633), from_origin(0, 0, 10, 10), 4, 3)) == 100.0)
    feet = CRS.from_epsg(2263)  # NAD83 / New York Long Island (ftUS)
    assert row_pixel_areas_m2(Grid(feet, from_origin(0, 0, 1, 1), 1, 1))[0] == pytest.approx(0.3048006**2, rel=1e-6)


def test_no_crs_is_an_error():
    with pytest.raises(InputError, match="no CRS"):
        row_pixel_areas_m2(Grid(None, from_origin(0, 0, 1, 1), 1, 1))


def test_tally_sums_masks_window_by_window_in_hectares():
    grid = Grid(CRS.from_epsg(4326), from_origin(12.0, 60.0, 0.001, 0.001), 7, 9)
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 2, (3, 9, 7)).astype(bool)
    tally = AreaTally(grid)
    for row0, rows in ((0, 4), (4, 5)):  # two windows
        tally.add("stack", row0, stack[:, row0:row0 + rows])
        tally.add("first", row0, stack[0, row0:row0 + rows])
    expected = [(stack[t].sum(axis=1) * row_pixel_areas_m2(grid)).sum() / M2_PER_HA for t in range(3)]
    assert tally["stack"] == pytest.approx(expected, rel=1e-12)
    assert tally["first"] == pytest.approx(expected[0], rel=1e-12) and isinstance(tally["first"], float)
    assert tally["never added"] == 0.0


def test_tally_counts_pixels_without_a_crs_and_refuses_other_units():
    grid = Grid(None, from_origin(0, 0, 1, 1), 4, 3)
    tally = AreaTally(grid, "pixels")
    tally.add("mask", 1, np.ones((2, 4), bool))
    assert tally.unit == "pixels" and tally["mask"] == 8.0
    with pytest.raises(InputError, match="no CRS"):
        AreaTally(grid)
    with pytest.raises(ValueError, match="area unit 'acres'"):
        AreaTally(grid, "acres")
