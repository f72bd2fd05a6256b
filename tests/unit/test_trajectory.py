"""TRAJECTORY raster and site figures from hand-built annual footprints with known histories,
through change_layers on real GeoTIFFs; the trend against scipy's linregress."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from scipy.stats import linregress

from euromine_qgis.core.maps.change_layers import change_layers
from euromine_qgis.core.maps.trajectory import linear_trend, site_trajectory
from tests.rasters import write_mask

YEARS = [2015, 2016, 2017, 2018, 2019, 2020]
N = None  # nodata year
# one pixel per row: (history over YEARS, expected TRAJECTORY value)
HISTORIES = [
    ([0, 0, 0, 1, 1, 1], 32018),  # gain in 2018, sustained
    ([1, 1, 0, 0, 0, 0], 42017),  # loss in 2017, sustained
    ([0, 1, 0, 1, 0, 0], 50000),  # flicker: four switches
    ([0, 0, 1, 0, 0, 0], 50000),  # flicker: two switches
    ([1, 1, 1, 1, 1, 1], 20000),  # stable mining
    ([0, 0, 0, 0, 0, 0], 10000),  # stable non-mining
    ([0, N, N, 1, 1, N], 32018),  # gain seen first in 2018 after two nodata years
    ([1, N, 1, 1, N, 1], 20000),  # nodata years skipped, not counted as 0
    ([1, 0, N, 0, 0, 0], 42016),  # loss in 2016, then a nodata year
    ([N, N, 0, 1, N, 1], 32018),  # first valid year 2017
    ([N, 1, N, N, N, N], 20000),  # a single valid year
    ([N, N, N, N, N, N], 65535),  # never valid
]


@pytest.fixture
def footprints(tmp_path):
    """The HISTORIES as annual 0/1/255 footprints, each pixel repeated over 3 columns."""
    paths = []
    for t, year in enumerate(YEARS):
        values = np.array([[255 if h[t] is None else h[t]] * 3 for h, _ in HISTORIES], np.uint8)
        paths.append((year, write_mask(tmp_path / "in" / f"footprint_{year}.tif", values, 255)))
    return paths


def test_trajectory_raster_classes_and_years(footprints, tmp_path):
    result = change_layers(footprints, [], tmp_path / "out", trajectory=tmp_path / "traj" / "trajectory.tif",
                           temporal_filter="none", min_area_ha=0.0)
    assert result.trajectory == tmp_path / "traj" / "trajectory.tif"
    with rasterio.open(result.trajectory) as src:
        assert (src.dtypes[0], src.nodata) == ("uint16", 65535)
        codes = src.read(1)
    assert codes[:, 0].tolist() == [expected for _, expected in HISTORIES]
    assert (codes == codes[:, :1]).all()


def test_site_figures_from_the_footprints(footprints, tmp_path):
    result = change_layers(footprints, [], tmp_path / "out", temporal_filter="none", min_area_ha=0.0)
    site = result.site
    areas = [result.area_ha[y] for y in YEARS]
    assert site.years == YEARS  # every year holds valid pixels
    assert site.first_year == 2015
    assert site.peak_year == YEARS[int(np.argmax(areas))]
    assert site.peak_ha == pytest.approx(max(areas))
    fit = linregress(YEARS, areas)
    assert site.rate_ha_per_year == pytest.approx(fit.slope, rel=1e-9)
    assert site.rate_se_ha_per_year == pytest.approx(fit.stderr, rel=1e-9)
    # rows 2 and 3 flicker; ever mined: every row but the stable non-mining one and the never valid one.
    # All pixels of a row share one area, so the share is a ratio of rows up to the rows' latitudes.
    assert site.flicker_share == pytest.approx(2 / 10, rel=1e-4)


def test_years_without_valid_pixels_are_left_out():
    site = site_trajectory({2015: 0.0, 2016: 1.0, 2017: 0.0, 2018: 3.0}, {2015: 5.0, 2016: 5.0, 2017: 0.0, 2018: 5.0},
                           flicker_ha=0.0, ever_mined_ha=0.0)
    assert site.years == [2015, 2016, 2018]
    assert (site.first_year, site.peak_year, site.peak_ha) == (2016, 2018, 3.0)
    fit = linregress([2015, 2016, 2018], [0.0, 1.0, 3.0])
    assert (site.rate_ha_per_year, site.rate_se_ha_per_year) == (pytest.approx(fit.slope), pytest.approx(fit.stderr))
    assert site.flicker_share is None


def test_trend_undefined_with_too_few_years():
    assert linear_trend([2020], [1.0]) == (None, None)
    slope, error = linear_trend([2019, 2021], [1.0, 5.0])
    assert slope == pytest.approx(2.0) and error is None
    never = site_trajectory({2019: 0.0, 2020: 0.0}, {2019: 1.0, 2020: 1.0}, 0.0, 0.0)
    assert (never.first_year, never.peak_year, never.peak_ha, never.rate_ha_per_year) == (None, None, None, 0.0)
