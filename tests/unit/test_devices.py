import onnxruntime as ort
import pytest

from euromine_qgis.core.engine.devices import CPU, CUDA, TENSORRT, device_name, execution_providers, provider_loads
from euromine_qgis.core.errors import ModelError

HAS_GPU = provider_loads(CUDA)


def test_cpu_and_auto():
    assert execution_providers("cpu") == [CPU]
    auto = execution_providers("auto")
    assert auto[-1] == CPU
    assert (CUDA in auto) == HAS_GPU


def test_unknown_device():
    with pytest.raises(ModelError, match="unknown device 'tpu'"):
        execution_providers("tpu")


@pytest.mark.parametrize("device, provider", [("cuda", CUDA), ("tensorrt", TENSORRT)])
def test_explicit_gpu_request_without_it_is_an_error(device, provider):
    if provider_loads(provider):
        pytest.skip(f"{provider} works on this machine")
    with pytest.raises(ModelError, match=f"DEVICE={device} was asked for but onnxruntime cannot use {provider}"):
        execution_providers(device)


def test_cpu_device_name():
    assert device_name(CPU) and "NVIDIA" not in device_name(CPU)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs onnxruntime-gpu with a working CUDA")
def test_cuda_runs_with_io_binding(conv_onnx):
    import numpy as np

    from euromine_qgis.core.engine.model import Model

    gpu, cpu = Model(conv_onnx, device="cuda"), Model(conv_onnx, device="cpu")
    assert gpu.provider == CUDA and gpu._io_binding and gpu.device_name
    x = np.random.default_rng(0).normal(size=(4, 10, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(gpu.positive_probability(x), cpu.positive_probability(x), atol=1e-4)
    assert ort.get_device() == "GPU"
