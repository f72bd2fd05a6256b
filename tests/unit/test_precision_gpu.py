"""PRECISION=fp16 on a real NVIDIA GPU (marked ``gpu``; skipped without one under ``make test``,
failing under ``make gpu-check``): the float16 sibling that export.quantize writes runs on CUDA and
agrees with fp32, TensorRT runs the parent with its fp16 flag, and auto on CUDA times fp16 too."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from euromine_qgis.core.engine.bundled import MODELS_DIR
from euromine_qgis.core.engine.devices import CUDA, TENSORRT
from euromine_qgis.core.engine.inference import first_batch
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.precision import CACHE_ENV, MIN_AGREEMENT, sibling_path
from euromine_qgis.core.io.raster import open_raster
from tests.gpu_support import requires_cuda, tensorrt_problem
from tests.plain_run import AUTO_TILES

pytestmark = [pytest.mark.gpu, requires_cuda()]


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> Path:
    from export.synthetic import generate_sites

    return generate_sites(tmp_path_factory.mktemp("fp16_sites"), 2, seed=3000)[1]


@pytest.fixture(scope="module")
def with_fp16(tmp_path_factory, heldout) -> Path:
    """A copy of the bundled U-Net with its fp16 sibling, written by export.quantize."""
    pytest.importorskip("onnx")
    from export.data import training_sites
    from export.quantize import write_sibling

    parent = shutil.copy(MODELS_DIR / "unet_footprint.onnx", tmp_path_factory.mktemp("fp16") / "unet_footprint.onnx")
    write_sibling(Path(parent), "fp16", [], training_sites(heldout.parent), "tests/unit/test_precision_gpu.py")
    return Path(parent)


def tiles_of(model: Model, site: Path) -> np.ndarray:
    with open_raster(site / "image" / "Year2020.tif") as src:
        return first_batch(model, [src], settings=AUTO_TILES)


def test_fp16_sibling_runs_on_cuda_and_agrees_with_fp32(with_fp16, heldout):
    fp16, fp32 = Model(with_fp16, device="cuda", precision="fp16", scale=1.0), Model(with_fp16, device="cpu", scale=1.0)
    assert (fp16.provider, fp16.precision, fp16.path) == (CUDA, "fp16", sibling_path(with_fp16, "fp16"))
    tiles = tiles_of(fp32, heldout)
    agree = np.mean((fp16.positive_probability(tiles) > 0.5) == (fp32.positive_probability(tiles) > 0.5))
    assert agree >= MIN_AGREEMENT


def test_auto_on_cuda_times_fp16(with_fp16, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    model = Model(with_fp16, device="cuda", precision="auto", scale=1.0)
    assert model.precision_reason.startswith("measured: fp32 1.00×") and "fp16 " in model.precision_reason


def test_tensorrt_runs_the_parent_with_its_fp16_flag(heldout):
    problem = tensorrt_problem()
    if problem:
        pytest.skip(problem)
    parent = MODELS_DIR / "unet_footprint.onnx"
    trt, cpu = Model(parent, device="tensorrt", precision="fp16", scale=1.0), Model(parent, device="cpu", scale=1.0)
    assert (trt.provider, trt.precision, trt.path) == (TENSORRT, "fp16", parent)
    assert trt.session.get_provider_options()[TENSORRT]["trt_fp16_enable"] == "1"
    tiles = tiles_of(cpu, heldout)
    agree = np.mean((trt.positive_probability(tiles) > 0.5) == (cpu.positive_probability(tiles) > 0.5))
    assert agree >= MIN_AGREEMENT
