import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.area import M2_PER_HA, AreaTally, pixel_areas_m2
from euromine_qgis.core.io.coordinates import apply_affine
from euromine_qgis.core.io.raster import Grid

pyproj = pytest.importorskip("pyproj")


def geodesic_pixel_areas(grid: Grid, points_per_edge: int = 16) -> np.ndarray:
    """Geodesic area (m²) of every pixel's outline, its edges densified in the grid's CRS and
    taken to longitude/latitude on the CRS's own ellipsoid."""
    crs = pyproj.CRS.from_wkt(grid.crs.to_wkt())
    to_lonlat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    geod = crs.get_geod()
    s = np.linspace(0.0, 1.0, points_per_edge, endpoint=False)
    # the outline's pixel coordinates, counter-clockwise seen on the map: along the four edges
    outline = np.concatenate([np.stack([s, np.zeros_like(s)]), np.stack([np.ones_like(s), s]),
                              np.stack([1 - s, np.ones_like(s)]), np.stack([np.zeros_like(s), 1 - s])], axis=1)
    areas = np.empty(grid.shape)
    for r in range(grid.height):
        for c in range(grid.width):
            x, y = apply_affine(grid.transform, c + outline[0], r + outline[1])
            lon, lat = to_lonlat.transform(x, y)
            areas[r, c] = abs(geod.polygon_area_perimeter(lon, lat)[0])
    return areas


# (CRS, upper-left corner, pixel size, width, height): Web Mercator from 50°N to 45°N; UTM 33N at
# the zone's western edge (12°E, 48°N), wide enough for the scale to vary by 0.08 % along a row,
# and in 100 m pixels where the scale is interpolated between evaluated pixel centres; UTM at the
# equator at the zone's edge (the largest scale in the zone); LAEA Europe; WGS 84 at 50°N.
CASES = {
    "3857 45-50N": (3857, (1_300_000, 6_446_276), 10_000, 12, 83),
    "32633 zone edge": (32633, (277_000, 5_320_000), 2_000, 50, 6),
    "32633 edge interpolated": (32633, (277_000, 5_320_000), 100, 37, 23),
    "32633 equator edge": (32633, (166_000, 100_000), 1_000, 20, 10),
    "3035": (3035, (4_321_000, 3_210_000), 1_000, 15, 12),
    "4326 50N": (4326, (12.0, 50.0), 0.01, 15, 12),
}


@pytest.mark.parametrize("case", CASES)
def test_pixel_areas_match_geodesic_pixel_outlines(case):
    epsg, (x0, y0), size, width, height = CASES[case]
    grid = Grid(CRS.from_epsg(epsg), from_origin(x0, y0, size, size), width, height)
    expected = geodesic_pixel_areas(grid)
    areas = np.broadcast_to(pixel_areas_m2(grid), grid.shape)
    assert np.max(np.abs(areas / expected - 1)) < 1e-4
    if epsg == 3035:  # equal-area: the planar cell area itself
        np.testing.assert_allclose(areas, size * size, rtol=1e-9)


def test_windows_have_the_areas_of_the_whole_grid():
    grid = Grid(CRS.from_epsg(32633), from_origin(277_000, 5_320_000, 10, 10), 251, 333)
    whole = pixel_areas_m2(grid)
    assert whole.shape == (333, 251) and np.ptp(whole[0]) / whole[0, 0] > 1e-5  # the scale varies along a row
    for row0, rows in ((0, 1), (5, 95), (100, 200), (300, 33)):
        np.testing.assert_allclose(pixel_areas_m2(grid, row0, rows), whole[row0:row0 + rows], rtol=1e-13)


def test_outside_the_projection_is_an_error():
    grid = Grid(CRS.from_epsg(32633), from_origin(9e7, 5e6, 1e6, 1e6), 3, 3)  # far beyond the zone's domain
    with pytest.raises(InputError, match="rows 0–2 of the grid lie outside the area where its CRS"):
        pixel_areas_m2(grid)


@pytest.mark.parametrize("lat", [0.0, 37.5, 50.0, 65.9, -45.0])
def test_geographic_rows_match_geodesic_polygons(lat):
    dx, dy = 10 / (111320 * np.cos(np.radians(lat))), 10 / 110574
    grid = Grid(CRS.from_epsg(4326), from_origin(12.0, lat + 5 * dy, dx, dy), 3, 5)
    areas = pixel_areas_m2(grid)
    assert areas.shape == (5, 1)  # one area per row
    geod = pyproj.Geod(ellps="WGS84")
    for r in range(5):
        top, bottom = lat + (5 - r) * dy, lat + (4 - r) * dy
        expected, _ = geod.polygon_area_perimeter([12.0, 12.0 + dx, 12.0 + dx, 12.0], [bottom, bottom, top, top])
        assert areas[r, 0] == pytest.approx(abs(expected), rel=1e-7)
    assert areas == pytest.approx(100.0, rel=0.02)  # ~10 m pixels (spherical estimate of dx, dy)


def test_whole_earth():
    grid = Grid(CRS.from_epsg(4326), from_origin(-180, 90, 360, 180), 1, 1)
    assert pixel_areas_m2(grid)[0, 0] == pytest.approx(510_065_621.7e6, rel=1e-9)


def test_projected_units():
    feet = CRS.from_epsg(2263)  # NAD83 / New York Long Island (ftUS), scale within 1e-5 of 1 here
    grid = Grid(feet, from_origin(1_000_000, 200_000, 100, 100), 1, 1)
    assert pixel_areas_m2(grid)[0, 0] == pytest.approx(100**2 * 0.3048006**2, rel=1e-5)
    assert pixel_areas_m2(grid)[0, 0] == pytest.approx(geodesic_pixel_areas(grid)[0, 0], rel=1e-6)


def test_no_crs_is_an_error():
    with pytest.raises(InputError, match="no CRS"):
        pixel_areas_m2(Grid(None, from_origin(0, 0, 1, 1), 1, 1))


@pytest.mark.parametrize("crs", [CRS.from_epsg(4326), CRS.from_epsg(32633)])
def test_tally_sums_masks_window_by_window_in_hectares(crs):
    size = 0.001 if crs.is_geographic else 100
    grid = Grid(crs, from_origin(12.0, 60.0, size, size) if crs.is_geographic else from_origin(277_000, 5_320_000,
                                                                                                size, size), 17, 9)
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 2, (3, 9, 17)).astype(bool)
    tally = AreaTally(grid)
    for row0, rows in ((0, 4), (4, 5)):  # two windows
        tally.add("stack", row0, stack[:, row0:row0 + rows])
        tally.add("first", row0, stack[0, row0:row0 + rows])
    expected = [(stack[t] * pixel_areas_m2(grid)).sum() / M2_PER_HA for t in range(3)]
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
