"""One grid comparison: pixels that coincide within GRID_TOLERANCE are the same grid, whatever the
CRS's units; anything else is named in words with the gdalwarp call that aligns it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.grids import GRID_TOLERANCE, common_grid, grid_differences, same_grid
from euromine_qgis.core.io.raster import Grid
from tests.rasters import TRANSFORM

WGS84 = CRS.from_epsg(4326)
PIXEL = TRANSFORM.a  # about 10 m at 50° N, in degrees


def grid(west: float = 15.0, north: float = 50.0, size: float = PIXEL, crs: CRS | None = WGS84,
         width: int = 500, height: int = 400) -> Grid:
    return Grid(crs, from_origin(west, north, size, size), width, height)


@dataclass(frozen=True)
class Raster:
    path: Path
    grid: Grid


def test_shifts_below_the_tolerance_are_the_same_grid_in_any_unit():
    assert same_grid(grid(), grid())
    assert same_grid(grid(), grid(west=15.0 + 0.5 * GRID_TOLERANCE * PIXEL))
    assert not same_grid(grid(), grid(west=15.0 + 2 * GRID_TOLERANCE * PIXEL))
    utm = CRS.from_epsg(32633)
    assert same_grid(grid(500_000, 5_500_000, 10, utm), grid(500_000 + 0.05, 5_500_000, 10, utm))
    assert not same_grid(grid(500_000, 5_500_000, 10, utm), grid(500_000 + 0.5, 5_500_000, 10, utm))


def test_a_pixel_size_that_drifts_across_the_grid_is_another_grid():
    # 10 % larger degree pixels, same corner: every pixel but the first lies elsewhere
    assert not same_grid(grid(), grid(size=PIXEL * 1.1))
    drift = GRID_TOLERANCE / 500  # relative size change that moves the far corner by the tolerance
    assert same_grid(grid(), grid(size=PIXEL * (1 + 0.5 * drift)))
    assert not same_grid(grid(), grid(size=PIXEL * (1 + 2 * drift)))
    assert "pixel size" in grid_differences(grid(), grid(size=PIXEL * (1 + 2 * drift)))


def test_differences_in_words():
    assert grid_differences(grid(), grid()) == ""
    assert grid_differences(grid(), grid(crs=CRS.from_epsg(4258))).startswith("CRS EPSG:4326 vs EPSG:4258")
    assert grid_differences(grid(), grid(width=501)).startswith("extent [")
    assert not same_grid(grid(), grid(crs=None)) and not same_grid(grid(), grid(height=401))


def test_common_grid_names_both_files_the_difference_and_the_gdalwarp_call():
    first, odd = Raster(Path("/d/a_2015.tif"), grid()), Raster(Path("/d/a_2016.tif"), grid(west=15.01))
    assert common_grid([first, Raster(Path("/d/b.tif"), grid())], "unused") == first.grid
    with pytest.raises(InputError, match=r"^/d/a_2016.tif and /d/a_2015.tif: masks differ \(extent \[.* px\)\); every "
                                         r"year must share one grid: align a_2016.tif to the grid of a_2015.tif with "
                                         r"GDAL \(gdalwarp -t_srs EPSG:4326 .* -r bilinear"):
        common_grid([first, odd], "masks differ", "every year must share one grid", resampling="bilinear")
