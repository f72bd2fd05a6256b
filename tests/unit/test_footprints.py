import hashlib

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import Cancelled, InputError, OutputError
from euromine_qgis.core.io.area import pixel_areas_m2
from euromine_qgis.core.io.raster import Grid
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.progress import Reporter
from tests.plain_run import AUTO_TILES, PLAIN_INPUT
from tests.rasters import random_scene, write_image

SETTINGS = TileSettings(tile=64, overlap=16, batch_size=4)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def series(tmp_path):
    """Two years of a 130 × 170 scene with a nodata corner in 2016."""
    a = random_scene(130, 170, seed=1)
    b = random_scene(130, 170, seed=2)
    b[:, :10, :25] = 0
    return [(2015, write_image(tmp_path / "in" / "Year2015.tif", a)),
            (2016, write_image(tmp_path / "in" / "Year2016.tif", b))]


def test_outputs_keep_grid_values_and_area(tmp_path, conv_onnx, series):
    before = {p: digest(p) for _, p in series}
    model = Model(conv_onnx, device="cpu", scale=1.0)
    results = map_footprints(series, model, tmp_path / "out", threshold=0.5, settings=SETTINGS,
                             temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert [r.year for r in results] == [2015, 2016]
    for (year, image), r in zip(series, results, strict=True):
        assert r.footprint == tmp_path / "out" / f"footprint_{year}.tif"
        with rasterio.open(image) as src, rasterio.open(r.footprint) as out:
            assert (out.crs, out.transform, out.width, out.height) == (src.crs, src.transform, src.width, src.height)
            assert out.dtypes == ("uint8",) and out.nodata == 255 and out.count == 1
            fp = out.read(1)
            data = src.read()
            grid = Grid(src.crs, src.transform, src.width, src.height)
        assert set(np.unique(fp)) <= {0, 1, 255}
        np.testing.assert_array_equal(fp == 255, np.any(data == 0, axis=0))
        valid = fp != 255
        x = model.normalize(data[None])
        x[:, :, ~valid] = 0.0  # nodata pixels enter the model as the band mean
        prob = model.positive_probability(x)[0]
        # the stitched map equals thresholding whole-scene inference wherever the probability is not on the edge
        clear = valid & (np.abs(prob - 0.5) > 1e-4)
        np.testing.assert_array_equal(fp[clear] == 1, prob[clear] >= 0.5)
        area = ((fp == 1) * pixel_areas_m2(grid)).sum() / 1e4
        assert r.mining_ha == pytest.approx(area, rel=1e-9)
        assert r.mining_pixels == int((fp == 1).sum()) and r.valid_pixels == int(valid.sum())
        assert 0 < r.mining_pixels < r.valid_pixels
    assert {p: digest(p) for _, p in series} == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["footprint_2015.tif", "footprint_2016.tif"]


def test_projected_input_area(tmp_path, conv_onnx):
    img = write_image(tmp_path / "utm_2020.tif", random_scene(70, 90), crs=CRS.from_epsg(32633),
                      transform=from_origin(500000, 5500000, 10, 10))
    (r,) = map_footprints([(2020, img)], Model(conv_onnx, device="cpu", scale=1.0), tmp_path / "o", settings=SETTINGS,
                          threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    # on its central meridian UTM scales lengths by k0 = 0.9996, so a 10 m pixel covers 100 / 0.9996² m²
    assert r.mining_ha == pytest.approx(r.mining_pixels * 100 / 0.9996**2 / 1e4)


def test_band_count_mismatch_names_the_file(tmp_path, conv_onnx):
    img = write_image(tmp_path / "four_2019.tif", random_scene(40, 40, bands=4))
    with pytest.raises(InputError, match=r"four_2019.tif: image has 4 band\(s\) but model 'test_conv' expects 10"):
        map_footprints([(2019, img)], Model(conv_onnx, device="cpu", scale=1.0), tmp_path / "o",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)
    assert not (tmp_path / "o" / "footprint_2019.tif").exists()


@pytest.mark.parametrize("content, message", [(b"", "file is empty"), (b"II*\x00garbage", "not a readable raster")])
def test_unreadable_inputs(tmp_path, conv_onnx, content, message):
    bad = tmp_path / "Year2018.tif"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=f"Year2018.tif: {message}"):
        map_footprints([(2018, bad)], Model(conv_onnx, device="cpu", scale=1.0), tmp_path / "o",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)


def test_missing_input_and_no_crs(tmp_path, conv_onnx):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    with pytest.raises(InputError, match="Year2017.tif: file does not exist"):
        map_footprints([(2017, tmp_path / "Year2017.tif")], model, tmp_path / "o",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)
    img = write_image(tmp_path / "nocrs_2017.tif", random_scene(40, 40), crs=None)
    with pytest.raises(InputError, match="nocrs_2017.tif: image has no CRS"):
        map_footprints([(2017, img)], model, tmp_path / "o",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)


def test_output_may_not_overwrite_input(tmp_path, conv_onnx):
    img = write_image(tmp_path / "footprint_2015.tif", random_scene(40, 40))
    before = digest(img)
    with pytest.raises(OutputError, match="would overwrite an input"):
        map_footprints([(2015, img)], Model(conv_onnx, device="cpu", scale=1.0), tmp_path,
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)
    assert digest(img) == before


def test_threshold_must_be_inside_0_1(tmp_path, conv_onnx, series):
    with pytest.raises(InputError, match="THRESHOLD 1.0"):
        map_footprints(series, Model(conv_onnx, device="cpu", scale=1.0), tmp_path / "o", threshold=1.0,
                       settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def test_cancel_leaves_no_partial_file(tmp_path, conv_onnx, series):
    out = tmp_path / "out"
    out.mkdir()
    old = out / "footprint_2016.tif"
    old.write_bytes(b"previous run")
    ticks = {"n": 0}

    def canceled():
        ticks["n"] += 1
        return ticks["n"] > 20  # 2015 takes 16 checks: this stops inside 2016

    with pytest.raises(Cancelled):
        map_footprints(series, Model(conv_onnx, device="cpu", scale=1.0), out,
                       settings=TileSettings(tile=64, overlap=16, batch_size=1),
                       reporter=Reporter(is_canceled=canceled),
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert sorted(p.name for p in out.iterdir()) == ["footprint_2015.tif", "footprint_2016.tif"]
    assert old.read_bytes() == b"previous run"  # the unfinished year never replaced anything
    with rasterio.open(out / "footprint_2015.tif") as done:
        assert done.read(1).shape == (130, 170)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_probability_rasters(tmp_path, conv_onnx, series, dtype):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    results = map_footprints(series, model, tmp_path / "o", settings=SETTINGS, probabilities=dtype,
                             threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    for r in results:
        assert r.probability == tmp_path / "o" / f"probability_{r.year}.tif"
        with rasterio.open(r.probability) as p, rasterio.open(r.footprint) as f:
            assert (p.crs, p.transform, p.shape, p.dtypes[0]) == (f.crs, f.transform, f.shape, dtype)
            fp = f.read(1)
            prob = p.read(1)
            valid = fp != 255
            if dtype == "float32":
                assert np.isnan(prob[~valid]).all() and np.isfinite(prob[valid]).all()
                np.testing.assert_array_equal(prob[valid] >= 0.5, fp[valid] == 1)
            else:
                np.testing.assert_array_equal(p.read_masks(1) == 255, valid)
                assert prob.min() >= 0 and prob.max() <= 255
                clear = valid & (np.abs(prob.astype(int) - 127.5) > 1)
                np.testing.assert_array_equal(prob[clear] > 127, fp[clear] == 1)
        assert 0 < (fp == 1).sum()
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [  # no .msk / .aux.xml sidecars
        "footprint_2015.tif", "footprint_2016.tif", "probability_2015.tif", "probability_2016.tif"]


def test_unknown_probability_type(tmp_path, conv_onnx, series):
    with pytest.raises(InputError, match="probabilities must be one of uint8, float32"):
        map_footprints(series, Model(conv_onnx, device="cpu", scale=1.0), tmp_path / "o", probabilities="int16",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)
