"""The engine on a real NVIDIA GPU (marked ``gpu``; skipped without one under ``make test``, failing
under ``make gpu-check``): every bundled model on CUDA through IO binding, TensorRT where its
libraries load, the out-of-memory halving against a GPU whose memory is really taken, and tiled
maps on the GPU equal to the CPU's within tests.gpu_support.GPU_TOLERANCE."""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
import rasterio

from euromine_qgis.core.engine.bundled import bundled_models
from euromine_qgis.core.engine.devices import CUDA, TENSORRT
from euromine_qgis.core.engine.inference import TileSettings, first_batch, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.progress import Reporter
from tests.gpu_support import (
    GPU_TOLERANCE,
    holding_gpu_memory,
    requires_cuda,
    tensorrt_problem,
)
from tests.onnx_factory import conv_model
from tests.plain_run import AUTO_TILES, PLAIN_INPUT
from tests.rasters import random_scene, write_image

pytestmark = [pytest.mark.gpu, requires_cuda()]
YEARS = (2020, 2021)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from export.synthetic import generate_site

    return generate_site(tmp_path_factory.mktemp("gpu"), "Gpu", seed=5, size=(300, 340), years=YEARS)


def images(site: Path, model: Model) -> list[Path]:
    """The images one sample of ``model`` takes: one year, or two (change and series models)."""
    count = 2 if model.info.series else model.info.images_per_sample
    return [site / "image" / f"Year{y}.tif" for y in YEARS[:count]]


def first_tiles(model: Model, paths: list[Path]) -> np.ndarray:
    with ExitStack() as stack:
        return first_batch(model, [stack.enter_context(rasterio.open(p)) for p in paths], settings=AUTO_TILES)


@pytest.mark.parametrize("name", [m.name for m in bundled_models()])
def test_bundled_model_runs_on_cuda_with_io_binding(site, name):
    file = next(m.file for m in bundled_models() if m.name == name)
    gpu, cpu = Model(file, device="cuda", scale=1.0), Model(file, device="cpu", scale=1.0)
    assert gpu.provider == CUDA and gpu.fallback is None and gpu._io_binding
    assert gpu.device_name.startswith("NVIDIA")
    tiles = first_tiles(cpu, images(site, cpu))
    np.testing.assert_allclose(gpu.positive_probability(tiles), cpu.positive_probability(tiles), atol=GPU_TOLERANCE)


def test_tensorrt_where_its_libraries_load(site):
    problem = tensorrt_problem()
    if problem:
        pytest.skip(problem)
    file = next(m.file for m in bundled_models(task="footprint") if m.name == "unet_footprint")
    trt, cpu = Model(file, device="tensorrt", scale=1.0), Model(file, device="cpu", scale=1.0)
    assert trt.provider == TENSORRT and trt.fallback is None
    tiles = first_tiles(cpu, images(site, cpu))
    np.testing.assert_allclose(trt.positive_probability(tiles), cpu.positive_probability(tiles), atol=GPU_TOLERANCE)


def test_tiled_maps_on_cuda_equal_the_cpu_maps(site, tmp_path):
    """Whole mapping runs (footprint and series models): probabilities within the tolerance,
    footprints differing only where the probability is that close to the threshold."""
    for bundled in bundled_models():
        if bundled.task == "change":
            continue
        paths = [(y, site / "image" / f"Year{y}.tif") for y in YEARS]
        for device in ("cpu", "cuda"):
            map_footprints(paths, Model(bundled.file, device=device, scale=1.0), tmp_path / bundled.name / device,
                           probabilities="float32",
                           threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                           image_input=PLAIN_INPUT)
        for year in YEARS:
            read = {d: rasterio.open(tmp_path / bundled.name / d / f"probability_{year}.tif").read(1, masked=True)
                    for d in ("cpu", "cuda")}
            np.testing.assert_allclose(read["cuda"].filled(0), read["cpu"].filled(0), atol=GPU_TOLERANCE)
            flips = (read["cuda"] >= 0.5) != (read["cpu"] >= 0.5)
            assert np.all(np.abs(read["cpu"][flips] - 0.5) <= GPU_TOLERANCE), bundled.name


def test_real_out_of_memory_halves_the_batch_and_keeps_the_result(tmp_path):
    """Most of the GPU's memory taken by a real allocation, then a batch of 32 tiles of 512² px
    through a 256-channel convolution (about 16 GiB of activations) into the 1.5 GiB left: the
    engine halves the batch until it fits and the map equals the CPU's."""
    path = conv_model(tmp_path / "wide.onnx", hidden=256)
    image = write_image(tmp_path / "scene.tif", random_scene(1000, 1000, seed=3))
    settings = TileSettings(tile=512, overlap=16, batch_size=32)
    with rasterio.open(image) as src:
        cpu = Model(path, device="cpu", scale=1.0)
        reference = np.concatenate([b.probability for b in predict_rows(cpu, src, settings)])
    gpu = Model(path, device="cuda", scale=1.0)
    gpu.positive_probability(np.zeros((1, 10, 64, 64), np.float32))  # CUDA context and cuDNN handles first
    lines: list[str] = []
    with holding_gpu_memory(leave_mib=1536), rasterio.open(image) as src:
        blocks = list(predict_rows(gpu, src, settings, Reporter(info=lines.append)))
    assert lines and all(line.startswith(f"Out of memory on {CUDA}: batch size lowered to") for line in lines)
    np.testing.assert_allclose(np.concatenate([b.probability for b in blocks]), reference, atol=GPU_TOLERANCE)
