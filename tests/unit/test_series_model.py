"""Series models (footprint_series) through the engine: all years in one pass, one map per year."""
from contextlib import contextmanager

import numpy as np
import pytest
import rasterio

from euromine_qgis.core.engine.inference import TileSettings, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import InputError, ModelError
from euromine_qgis.core.maps.footprints import map_footprints
from tests.onnx_factory import conv_model, metadata, series_model
from tests.plain_run import AUTO_TILES, PLAIN_INPUT
from tests.rasters import random_scene, write_image

YEARS = (2016, 2017, 2018, 2019)


@pytest.fixture(scope="module")
def series_onnx(tmp_path_factory):
    return series_model(tmp_path_factory.mktemp("series") / "series.onnx")


def _stack(tmp_path, shape, nodata_year=None):
    paths, data = [], []
    for t, year in enumerate(YEARS):
        scene = random_scene(*shape, seed=year)
        if t == nodata_year:
            scene[:, :, 20] = 0  # one nodata column in this year only
        data.append(scene)
        paths.append(write_image(tmp_path / f"Year{year}.tif", scene, nodata=0))
    return paths, np.stack(data)


@contextmanager
def _open(paths):
    srcs = [rasterio.open(p) for p in paths]
    try:
        yield srcs
    finally:
        for src in srcs:
            src.close()


def _whole_stack(model: Model, data: np.ndarray) -> np.ndarray:
    """(T, H, W) probabilities from one session run on the whole (T, C, H, W) stack."""
    t, c, h, w = data.shape
    batch = model.normalize(data).reshape(1, t * c, h, w)
    return model.positive_probability(batch)[0]


def test_series_model_loads(series_onnx):
    model = Model(series_onnx, device="cpu", scale=1.0)
    assert model.info.series and model.info.images_per_sample == 0


@pytest.mark.parametrize("shape, batch", [((150, 97), 1), ((64, 64), 4), ((70, 200), 3)])
def test_tiled_series_equals_whole_stack(tmp_path, series_onnx, shape, batch):
    paths, data = _stack(tmp_path, shape)
    model = Model(series_onnx, device="cpu", scale=1.0)
    with _open(paths) as srcs:
        blocks = list(predict_rows(model, srcs, TileSettings(tile=64, overlap=8, batch_size=batch)))
    probability = np.concatenate([b.probability for b in blocks], axis=1)
    valid = np.concatenate([b.valid for b in blocks], axis=1)
    assert probability.shape == (len(YEARS), *shape) and valid.all()
    np.testing.assert_allclose(probability, _whole_stack(model, data), atol=2e-5)


def test_years_mix_and_nodata_stays_in_its_year(tmp_path, series_onnx):
    paths, _ = _stack(tmp_path, (64, 64), nodata_year=1)
    model = Model(series_onnx, device="cpu", scale=1.0)
    with _open(paths) as srcs:
        (block,) = list(predict_rows(model, srcs, TileSettings(tile=64, overlap=8, batch_size=0)))
    assert not block.valid[1][:, 20].any() and block.valid[1].sum() == 64 * 63
    assert block.valid[[0, 2, 3]].all()
    # changing one year's image changes its neighbours' maps: the years are seen together
    changed = random_scene(64, 64, seed=99)
    write_image(paths[1], changed, nodata=0)
    with _open(paths) as srcs:
        (again,) = list(predict_rows(model, srcs, TileSettings(tile=64, overlap=8, batch_size=0)))
    assert not np.allclose(again.probability[0], block.probability[0])
    np.testing.assert_array_equal(again.probability[3], block.probability[3])  # 2 years away: kernel 3


def test_map_footprints_with_series_model(tmp_path, series_onnx):
    paths, data = _stack(tmp_path, (90, 130))
    model = Model(series_onnx, device="cpu", scale=1.0)
    out = tmp_path / "out"
    results = map_footprints(list(zip(YEARS, paths, strict=True)), model, out,
                             settings=TileSettings(tile=64, overlap=8, batch_size=0), probabilities="float32",
                             threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert [r.year for r in results] == list(YEARS)
    expected = _whole_stack(model, data)
    for t, r in enumerate(results):
        with rasterio.open(r.footprint) as f, rasterio.open(r.probability) as p, rasterio.open(paths[t]) as src:
            assert (f.crs, f.transform, f.shape) == (src.crs, src.transform, src.shape)
            np.testing.assert_array_equal(f.read(1), (expected[t] >= 0.5).astype(np.uint8))
            np.testing.assert_allclose(p.read(1), expected[t], atol=2e-5)
        assert r.mining_pixels == int((expected[t] >= 0.5).sum()) and r.valid_pixels == 90 * 130
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"footprint_{y}.tif" for y in YEARS] + [f"probability_{y}.tif" for y in YEARS])


def test_series_needs_one_grid(tmp_path, series_onnx):
    paths, _ = _stack(tmp_path, (64, 64))
    write_image(paths[2], random_scene(64, 65, seed=1), nodata=0)
    with pytest.raises(InputError, match="different grids"):
        map_footprints(list(zip(YEARS, paths, strict=True)), Model(series_onnx, device="cpu", scale=1.0),
                       tmp_path / "out", threshold=0.5, settings=AUTO_TILES, temporal_filter="none",
                       min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_series_metadata_on_a_per_year_graph_is_refused(tmp_path):
    path = conv_model(tmp_path / "m.onnx", meta=metadata(task="footprint_series"))
    with pytest.raises(ModelError, match=r"input .image. must be \(N, T, C, H, W\)"):
        Model(path, device="cpu", scale=1.0)
