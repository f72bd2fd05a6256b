"""Property-based robustness tests: tiling and metrics over random sizes, overlaps, batch and
window sizes, nodata patterns and dtypes, through real GeoTIFFs and a real ONNX model."""
from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from euromine_qgis.core.engine.inference import TileSettings, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.tiling import blend_weights, tile_starts
from euromine_qgis.core.io import masks as mask_io
from euromine_qgis.core.scoring.evaluation import evaluate_rasters
from euromine_qgis.core.scoring.metrics import series_counts
from tests.onnx_factory import conv_model
from tests.rasters import write_image, write_mask

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.integers(1, 700), st.integers(2, 200), st.data())
def test_tiles_cover_every_pixel_with_positive_weight(length, tile, data):
    overlap = data.draw(st.integers(0, tile - 1))
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts == sorted(set(starts))
    assert all(b - a <= tile - overlap for a, b in pairwise(starts))
    size = min(tile, length)
    total = np.zeros(length)
    for s in starts:
        total[s:s + size] += blend_weights(size, overlap, taper_start=s > 0, taper_end=s + size < length)
    assert total.min() > 0


@pytest.fixture(scope="module")
def pixelwise(tmp_path_factory) -> Model:
    """A real ONNX model with 1×1 kernels: each pixel's output depends on that pixel alone, so a
    tiled run must reproduce whole-scene inference exactly whatever the tiling and padding."""
    return Model(conv_model(tmp_path_factory.mktemp("pixelwise") / "pixelwise.onnx", kernel=1), device="cpu", scale=1.0)


DTYPES = {  # dtype -> (value range, declared nodata: a value, NaN or none)
    "int16": ((-2000, 9000), -32768),
    "uint16": ((1, 12000), 0),
    "uint8": ((1, 255), 0),
    "float32": ((-0.1, 1.2), float("nan")),
    "float32-undeclared": ((0.0, 1.0), None),
}


@pytest.mark.slow
@PROPERTY
@given(height=st.integers(1, 140), width=st.integers(1, 140), tile=st.sampled_from([16, 32, 64]),
       overlap_share=st.floats(0, 0.95), batch=st.integers(1, 5), dtype=st.sampled_from(sorted(DTYPES)),
       nodata_share=st.sampled_from([0.0, 0.05, 0.5, 1.0]), seed=st.integers(0, 2**16))
def test_tiled_inference_equals_pixelwise_truth(pixelwise, height, width, tile, overlap_share, batch, dtype,
                                                nodata_share, seed):
    (low, high), nodata = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    numpy_dtype = np.dtype(dtype.split("-")[0])
    data = rng.uniform(low, high, (10, height, width)).astype(numpy_dtype)
    holes = rng.random((10, height, width)) < nodata_share / 10  # nodata in single bands, as in real scenes
    if nodata is not None:
        data[holes] = nodata
    elif numpy_dtype.kind == "f":
        data[holes] = np.where(rng.random(holes.sum()) < 0.5, np.nan, np.inf)
    expected_valid = ~holes.any(axis=0)

    settings_ = TileSettings(tile=tile, overlap=int(overlap_share * (tile - 1)), batch_size=batch)
    with tempfile.TemporaryDirectory() as folder:
        path = write_image(Path(folder) / "scene.tif", data, nodata=nodata)
        with rasterio.open(path) as src:
            blocks = list(predict_rows(pixelwise, src, settings_))
    assert [b.row0 for b in blocks] == sorted({b.row0 for b in blocks}) and blocks[0].row0 == 0
    probability = np.concatenate([b.probability for b in blocks])
    valid = np.concatenate([b.valid for b in blocks])
    np.testing.assert_array_equal(valid, expected_valid)
    truth = pixelwise.positive_probability(pixelwise.normalize(np.where(expected_valid, data, 0)[None]))[0]
    np.testing.assert_allclose(probability[valid], truth[valid], rtol=0, atol=1e-5)


MASK_KINDS = {  # how a mask raster encodes (mining, valid): dtype, declared nodata, mining value
    "footprint": ("uint8", 255, 1),
    "label": ("uint8", None, 255),  # EuroMineNet: no nodata, 0/255
    "float-nan": ("float32", float("nan"), 1.0),
    "int16": ("int16", -1, 7),  # any non-zero value that is not nodata is mining
}


def encode(mining: np.ndarray, valid: np.ndarray, kind: str) -> tuple[np.ndarray, float | None]:
    dtype, nodata, value = MASK_KINDS[kind]
    raw = np.where(mining, value, 0).astype(dtype)
    if nodata is not None:
        raw[~valid] = nodata
    return raw, nodata


@pytest.mark.slow
@PROPERTY
@given(years=st.integers(1, 4), height=st.integers(1, 60), width=st.integers(1, 60),
       prediction_kind=st.sampled_from(sorted(MASK_KINDS)), reference_kind=st.sampled_from(sorted(MASK_KINDS)),
       nodata_share=st.sampled_from([0.0, 0.2, 1.0]), window=st.integers(1, 4000), seed=st.integers(0, 2**16))
def test_streamed_file_metrics_equal_in_memory_counts(years, height, width, prediction_kind, reference_kind,
                                                      nodata_share, window, seed):
    rng = np.random.default_rng(seed)
    shape = (years, height, width)
    pred, ref = rng.random(shape) < 0.4, rng.random(shape) < 0.4
    pred_valid, ref_valid = (rng.random(shape) >= nodata_share if MASK_KINDS[kind][1] is not None
                             else np.ones(shape, bool) for kind in (prediction_kind, reference_kind))
    year_list = list(range(2015, 2015 + years))
    pairs = [(a, b) for a in year_list for b in year_list if a < b]
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(mask_io, "WINDOW_PIXELS", window)  # windows of one row up to the whole raster
        files = {}
        for name, masks, valid, kind in (("p", pred, pred_valid, prediction_kind),
                                         ("r", ref, ref_valid, reference_kind)):
            files[name] = {}
            for t, year in enumerate(year_list):
                raw, nodata = encode(masks[t], valid[t], kind)
                files[name][year] = write_mask(Path(folder) / name / f"{name}_{year}.tif", raw, nodata)
        streamed = evaluate_rasters(files["p"], files["r"], pairs).counts
    valid = pred_valid & ref_valid
    assert streamed == series_counts(pred & valid, ref & valid, valid, year_list, pairs)
