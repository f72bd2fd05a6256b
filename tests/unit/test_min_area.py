"""Minimum mapping unit: GDAL's sieve through rasterio on real GeoTIFFs, in change_layers and
map_footprints (real onnxruntime session), with the pixel threshold from exact pixel areas."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.area import pixel_areas_m2
from euromine_qgis.core.io.raster import Grid
from euromine_qgis.core.maps.change_layers import change_layers
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.maps.min_area import mean_pixel_area_m2, min_area_pixels, sieve_mask
from euromine_qgis.core.maps.temporal_filter import filter_masks
from tests.plain_run import PLAIN_INPUT
from tests.rasters import TRANSFORM, random_scene, write_image, write_mask

HEIGHT, WIDTH = 20, 24
GRID = Grid(rasterio.crs.CRS.from_epsg(4326), TRANSFORM, WIDTH, HEIGHT)


def read(path):
    with rasterio.open(path) as src:
        return src.read(1)


def ha_for_pixels(grid: Grid, pixels: int) -> float:
    return pixels * mean_pixel_area_m2(grid) / 1e4


@pytest.fixture
def scene() -> np.ndarray:
    """0/1/255 footprint: a 3-pixel patch, a large patch with a 2-pixel hole, two diagonal
    2-pixel patches, a 1-pixel patch enclosed by nodata."""
    values = np.zeros((HEIGHT, WIDTH), np.uint8)
    values[2, 2:5] = 1  # 3-pixel patch
    values[8:18, 8:20] = 1  # large patch (120 pixels) ...
    values[12, 12:14] = 0  # ... with a 2-pixel hole
    values[2:4, 15] = 1  # two 2-pixel patches touching only by a corner
    values[4:6, 16] = 1
    values[15:20, 0:5] = 255  # nodata block ...
    values[17, 2] = 1  # ... around a single mining pixel
    return values


def test_threshold_in_pixels_from_the_mean_exact_pixel_area():
    mean = float((pixel_areas_m2(GRID) * np.ones((1, WIDTH))).mean())
    assert mean_pixel_area_m2(GRID) == pytest.approx(mean, rel=1e-12)
    for pixels in range(1, 30):  # a patch of exactly the area is kept
        assert min_area_pixels(GRID, pixels * mean / 1e4) == pixels
        assert min_area_pixels(GRID, (pixels + 0.01) * mean / 1e4) == pixels + 1
    assert min_area_pixels(GRID, 0.0) == 0
    with pytest.raises(InputError, match="MIN_AREA_HA"):
        min_area_pixels(GRID, -0.1)


def test_sieve_removes_small_patch_and_hole_keeps_large_patch_and_nodata(scene):
    out = sieve_mask(scene, 4)
    expected = scene.copy()
    expected[2, 2:5] = 0  # 3-pixel patch gone
    expected[12, 12:14] = 1  # hole filled
    expected[2:4, 15] = 0  # 4-connected: two 2-pixel patches, both gone
    expected[4:6, 16] = 0
    np.testing.assert_array_equal(out, expected)  # nodata block and its enclosed pixel unchanged
    np.testing.assert_array_equal(sieve_mask(scene, 3), _small_sieve_expected(scene))


def _small_sieve_expected(scene: np.ndarray) -> np.ndarray:
    """At 3 pixels: only the 2-pixel patches and the 2-pixel hole go; the 3-pixel patch stays."""
    expected = scene.copy()
    expected[12, 12:14] = 1
    expected[2:4, 15] = 0
    expected[4:6, 16] = 0
    return expected


def test_change_layers_sieve_masks_and_areas(scene, tmp_path):
    later = scene.copy()
    later[0:2, 20:24] = 1  # 8 pixels: kept at 4, removed at 10
    inputs = [(2019, write_mask(tmp_path / "in" / "f2019.tif", scene, 255)),
              (2020, write_mask(tmp_path / "in" / "f2020.tif", later, 255))]
    result = change_layers(inputs, [(2019, 2020)], tmp_path / "out", masks_dir=tmp_path / "masks",
                           min_area_ha=ha_for_pixels(GRID, 4), temporal_filter="none")
    np.testing.assert_array_equal(read(result.masks[2019]), sieve_mask(scene, 4))
    np.testing.assert_array_equal(read(result.masks[2020]), sieve_mask(later, 4))
    assert read(result.masks[2020])[0:2, 20:24].all()
    areas = pixel_areas_m2(GRID) / 1e4 * np.ones((1, WIDTH))
    for year, mask in ((2019, sieve_mask(scene, 4)), (2020, sieve_mask(later, 4))):
        assert result.area_ha[year] == pytest.approx(float(areas[mask == 1].sum()), rel=1e-9)
    change = read(result.change[(2019, 2020)])
    assert set(np.unique(change[0:2, 20:24])) == {1}
    big = change_layers(inputs, [(2019, 2020)], tmp_path / "out10", min_area_ha=ha_for_pixels(GRID, 10),
                        temporal_filter="none")
    assert big.area_ha[2019] == pytest.approx(big.area_ha[2020])  # the 8-pixel gain is under the unit
    assert not list((tmp_path / "out").glob(".min-area-*"))  # the work folder is gone


def test_temporal_filter_comes_before_the_sieve(tmp_path):
    rng = np.random.default_rng(3)
    years = [2016, 2017, 2018, 2019]
    stack = (rng.random((4, HEIGHT, WIDTH)) < 0.4).astype(np.uint8)
    stack[:, 5:9, 5:9] = 255  # nodata in every year
    stack[1, 0:3, 0:3] = 255  # and in one year
    inputs = [(y, write_mask(tmp_path / "in" / f"f{y}.tif", stack[t], 255)) for t, y in enumerate(years)]
    result = change_layers(inputs, [], tmp_path / "out", temporal_filter="smooth3", masks_dir=tmp_path / "m",
                           min_area_ha=ha_for_pixels(GRID, 5))
    valid = stack != 255
    filtered = filter_masks(stack == 1, valid, 3)
    for t, year in enumerate(years):
        expected = sieve_mask(np.where(valid[t], filtered[t], 255).astype(np.uint8), 5)
        np.testing.assert_array_equal(read(result.masks[year]), expected)


def test_map_footprints_with_min_area(tmp_path, conv_onnx):
    images = [(2015, write_image(tmp_path / "in" / "Year2015.tif", random_scene(90, 110, seed=4)))]
    data = random_scene(90, 110, seed=5)
    data[:, :12, :30] = 0  # nodata corner
    images.append((2016, write_image(tmp_path / "in" / "Year2016.tif", data)))
    model = Model(conv_onnx, device="cpu", scale=1.0)
    settings = TileSettings(tile=64, overlap=16, batch_size=4)
    plain = map_footprints(images, model, tmp_path / "plain", settings=settings, probabilities="float32",
                           threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    with rasterio.open(images[0][1]) as src:
        grid = Grid(src.crs, src.transform, src.width, src.height)
    min_ha = ha_for_pixels(grid, 6)
    sieved = map_footprints(images, model, tmp_path / "sieved", settings=settings, probabilities="float32",
                            min_area_ha=min_ha, threshold=0.5, temporal_filter="none", image_input=PLAIN_INPUT)
    written = [sorted(p.name for p in (tmp_path / name).iterdir()) for name in ("sieved", "plain")]
    assert written[0] == written[1]  # no work folder left behind
    for before, after in zip(plain, sieved, strict=True):
        raw, out = read(before.footprint), read(after.footprint)
        np.testing.assert_array_equal(out, sieve_mask(raw, 6))
        np.testing.assert_array_equal(out == 255, raw == 255)
        np.testing.assert_array_equal(read(after.probability), read(before.probability))  # probabilities as mapped
        labels, count = ndimage.label(raw == 1)  # 4-connected, independently of GDAL
        sizes = np.bincount(labels.ravel())[1:]
        assert (sizes < 6).any() and out.sum() != raw.sum()  # the unit has something to remove
        labels, count = ndimage.label(out == 1)
        near_nodata = ndimage.binary_dilation(out == 255)
        for k in range(1, count + 1):
            patch = labels == k
            assert patch.sum() >= 6 or (patch & near_nodata).any(), k
        areas = pixel_areas_m2(grid) / 1e4 * np.ones((1, grid.width))
        assert after.mining_ha == pytest.approx(float(areas[out == 1].sum()), rel=1e-9)
        assert after.mining_pixels == int((out == 1).sum()) and after.valid_pixels == before.valid_pixels
