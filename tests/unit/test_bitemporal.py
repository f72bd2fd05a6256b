import hashlib

import numpy as np
import pytest
import rasterio

from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import Cancelled, InputError, OutputError
from euromine_qgis.core.io.area import pixel_areas_m2
from euromine_qgis.core.io.raster import Grid
from euromine_qgis.core.maps.bitemporal import change_from_footprints, detect_change
from euromine_qgis.core.progress import Reporter
from tests.onnx_factory import change_model, metadata
from tests.plain_run import AUTO_TILES, PLAIN_INPUT
from tests.rasters import random_scene, write_image, write_mask

SETTINGS = TileSettings(overlap=16, batch_size=3)


@pytest.fixture
def dates(tmp_path):
    before = random_scene(150, 170, seed=21)
    after = before.copy()
    after[:, 40:110, 30:120] = random_scene(70, 90, seed=22)  # part of the scene changes
    after[:, :6, :20] = 0  # nodata corner in the second date
    return write_image(tmp_path / "Year2016.tif", before), write_image(tmp_path / "Year2020.tif", after)


def whole(model: Model, *paths) -> np.ndarray:
    """Whole-scene probabilities with nodata filled as the engine does (band mean)."""
    data = [rasterio.open(p).read() for p in paths]
    valid = np.logical_and.reduce([np.all(d != 0, axis=0) for d in data])
    x = np.concatenate([model.normalize(d[None]) for d in data], axis=1)
    x[:, :, ~valid] = 0.0
    return model.positive_probability(x)[0], valid


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), Grid(src.crs, src.transform, src.width, src.height)


def areas(codes, grid, code):
    return float(((codes == code) * pixel_areas_m2(grid)).sum()) / 1e4


def test_post_classification(tmp_path, conv_onnx, dates):
    before, after = dates
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in dates]
    fp = Model(conv_onnx, device="cpu", scale=1.0)
    result = detect_change(before, after, tmp_path / "out" / "change.tif", fp, settings=SETTINGS,
                           threshold=0.5, image_input=PLAIN_INPUT)
    codes, grid = read(result.change)
    pb, valid = whole(fp, before)
    pa, valid_a = whole(fp, after)
    valid &= valid_a
    expected = np.where(valid, np.where((pa >= .5) & (pb < .5), 1, np.where((pb >= .5) & (pa < .5), 2, 0)), 255)
    clear = (np.abs(pa - .5) > 1e-4) & (np.abs(pb - .5) > 1e-4) | ~valid
    np.testing.assert_array_equal(codes[clear], expected[clear])
    assert result.method == "post_classification"
    assert result.gain_ha == pytest.approx(areas(codes, grid, 1))
    assert result.loss_ha == pytest.approx(areas(codes, grid, 2))
    assert result.gain_ha > 0 and result.loss_ha > 0 and result.net_ha == pytest.approx(result.gain_ha - result.loss_ha)
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in dates] == digests
    with rasterio.open(result.change) as out, rasterio.open(before) as src:
        assert (out.crs, out.transform, out.shape, out.nodata) == (src.crs, src.transform, src.shape, 255)


@pytest.mark.parametrize("two_inputs", [True, False])
def test_change_model_split_by_footprint_probabilities(tmp_path, conv_onnx, dates, two_inputs):
    before, after = dates
    fp = Model(conv_onnx, device="cpu", scale=1.0)  # patch 64
    meta = metadata(name="test_change", task="change", classes=["no_change", "change"], patch_size=48)
    cm = Model(change_model(tmp_path / "c.onnx", two_inputs=two_inputs, meta=meta),
               device="cpu", scale=1.0)  # another patch size: the streams finish rows in different blocks
    result = detect_change(before, after, tmp_path / "change.tif", fp, cm, settings=SETTINGS,
                           threshold=0.5, image_input=PLAIN_INPUT)
    codes, _ = read(result.change)
    pc, valid = whole(cm, before, after)
    pb, _ = whole(fp, before)
    pa, _ = whole(fp, after)
    expected = np.where(valid, np.where(pc >= .5, np.where(pa >= pb, 1, 2), 0), 255)
    clear = (np.abs(pc - .5) > 1e-4) & (np.abs(pa - pb) > 1e-5) | ~valid
    np.testing.assert_array_equal(codes[clear], expected[clear])
    assert result.method == "change_model" and {1, 2} <= set(np.unique(codes))


def test_refusals_name_the_files(tmp_path, conv_onnx, dates):
    before, after = dates
    fp = Model(conv_onnx, device="cpu", scale=1.0)
    other = write_image(tmp_path / "Year2021.tif", random_scene(150, 171, seed=3))
    with pytest.raises(InputError, match="Year2021.tif and .*Year2016.tif: the two images are not on the same grid"):
        detect_change(before, other, tmp_path / "c.tif", fp,
                      threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    with pytest.raises(InputError, match="a change model is needed here, this one's task is 'footprint'"):
        detect_change(before, after, tmp_path / "c.tif", fp, fp,
                      threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    with pytest.raises(OutputError, match="would overwrite an input"):
        detect_change(before, after, after, fp, threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    four = write_image(tmp_path / "four_2019.tif", random_scene(150, 170, bands=4))
    with pytest.raises(InputError, match=r"four_2019.tif: image has 4 band\(s\)"):
        detect_change(four, after, tmp_path / "c.tif", fp, threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    assert not (tmp_path / "c.tif").exists()


def test_cancel_leaves_nothing(tmp_path, conv_onnx, dates):
    calls = {"n": 0}

    def canceled():
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(Cancelled):
        detect_change(*dates, tmp_path / "o" / "change.tif", Model(conv_onnx, device="cpu", scale=1.0),
                      threshold=0.5, settings=SETTINGS, reporter=Reporter(is_canceled=canceled),
                      image_input=PLAIN_INPUT)
    assert list((tmp_path / "o").iterdir()) == []


def test_change_from_footprint_rasters(tmp_path):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 2, (90, 70)).astype(np.uint8)
    b = rng.integers(0, 2, (90, 70)).astype(np.uint8)
    a[:3] = 255
    b[:, :2] = 255
    fa = write_mask(tmp_path / "footprint_2016.tif", a, nodata=255)
    fb = write_mask(tmp_path / "footprint_2020.tif", b, nodata=255)
    result = change_from_footprints(fa, fb, tmp_path / "change.tif")
    codes, grid = read(result.change)
    valid = (a != 255) & (b != 255)
    expected = np.full(a.shape, 255)
    expected[valid] = np.select([(a == 0) & (b == 1), (a == 1) & (b == 0)], [1, 2], 0)[valid]
    np.testing.assert_array_equal(codes, expected)
    assert result.gain_ha == pytest.approx(areas(codes, grid, 1)) and result.method == "footprints"
