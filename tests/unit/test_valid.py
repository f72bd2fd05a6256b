"""The one valid-pixel rule (core/io/valid.py), as the engine and training apply it."""
import numpy as np
import rasterio

from euromine_qgis.core.engine.inference import TileSettings, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.io.valid import valid_pixels
from tests.rasters import random_scene, write_image


def test_nan_and_declared_nodata_are_invalid_negative_values_are_not():
    data = np.full((3, 2, 2), -50.0, np.float32)
    data[1, 0, 1] = np.nan
    data[2, 1, 0] = np.inf
    np.testing.assert_array_equal(valid_pixels(data, None), [[True, False], [False, True]])
    ints = np.array([[[-3, 7], [5, -32768]], [[1, 1], [1, 1]]], np.int16)
    np.testing.assert_array_equal(valid_pixels(ints, -32768), [[True, True], [True, False]])


def test_zero_in_every_band_is_fill_but_zero_in_some_bands_is_data():
    data = np.ones((10, 2, 3), np.int16)
    data[:, 0, 0] = 0  # fill: every band 0
    data[:5, 1, 2] = 0  # a dark pixel: some bands 0
    expected = np.ones((2, 3), bool)
    expected[0, 0] = False
    np.testing.assert_array_equal(valid_pixels(data, None), expected)
    np.testing.assert_array_equal(valid_pixels(data.astype(np.float32), float("nan")), expected)


def test_engine_maps_fill_as_nodata(tmp_path, conv_onnx):
    data = random_scene(70, 90, seed=4)
    data[:, 10:20, 30:50] = 0
    path = write_image(tmp_path / "fill.tif", data, nodata=None)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    with rasterio.open(path) as src:
        blocks = list(predict_rows(model, src, TileSettings(tile=32, overlap=8, batch_size=3)))
    valid = np.concatenate([b.valid for b in blocks])
    expected = np.ones((70, 90), bool)
    expected[10:20, 30:50] = False
    np.testing.assert_array_equal(valid, expected)
