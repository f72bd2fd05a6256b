"""GPU faults on a real NVIDIA GPU (skipped without one): running out of GPU memory makes the
engine lower the batch size and finish with the same result. A requested GPU that cannot be used
is covered on every machine: tests/unit/test_devices.py (DEVICE=cuda/tensorrt is an error) and
test_robust_processing.py (DEVICE=auto falls back and says which provider ran)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import rasterio

from euromine_qgis.core.engine.devices import CUDA, provider_loads
from euromine_qgis.core.engine.inference import TileSettings, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import OutOfMemory
from euromine_qgis.core.progress import Reporter
from tests.onnx_factory import conv_model
from tests.rasters import random_scene, write_image

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not provider_loads(CUDA), reason="needs onnxruntime-gpu with a working CUDA")]

ARENA_BYTES = 64 << 20  # the CUDA arena cap: a few 64 × 64 tiles of the wide model fit, sixteen do not


def test_cuda_out_of_memory_lowers_the_batch_and_keeps_the_result(tmp_path):
    path = conv_model(tmp_path / "wide.onnx", hidden=256)  # 4 MiB of activations per tile and layer
    image = write_image(tmp_path / "scene.tif", random_scene(200, 330, seed=9))
    settings = TileSettings(tile=64, overlap=16, batch_size=16)
    with rasterio.open(image) as src:
        cpu = Model(path, device="cpu", scale=1.0)
        reference = np.concatenate([b.probability for b in predict_rows(cpu, src, settings)])

    gpu = Model(path, device="cuda", scale=1.0)
    gpu.session = ort.InferenceSession(str(path), providers=[(CUDA, {
        "gpu_mem_limit": str(ARENA_BYTES), "arena_extend_strategy": "kSameAsRequested"})])
    with pytest.raises(OutOfMemory,
                       match=r"wide.onnx: out of memory on CUDAExecutionProvider with a batch of 16 tiles"):
        gpu.positive_probability(np.zeros((16, 10, 64, 64), np.float32))

    lines: list[str] = []
    with rasterio.open(image) as src:
        blocks = list(predict_rows(gpu, src, settings, Reporter(info=lines.append)))
    np.testing.assert_allclose(np.concatenate([b.probability for b in blocks]), reference, atol=1e-4)
    assert lines and all("Out of memory on CUDAExecutionProvider: batch size lowered to" in line for line in lines)
