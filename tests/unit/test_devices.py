import onnxruntime as ort
import pytest

from euromine_qgis.core.engine.devices import (
    CPU,
    CUDA,
    TENSORRT,
    device_name,
    execution_providers,
    provider_fallback,
    provider_loads,
    requested_providers,
)
from euromine_qgis.core.errors import ModelError

HAS_GPU = provider_loads(CUDA)
PLATFORMS = ["linux", "win32", "darwin"]
GPU_BUILD = [TENSORRT, CUDA, CPU]  # what onnxruntime-gpu lists on Linux and Windows, GPU or not
CPU_BUILD = ["AzureExecutionProvider", CPU]
FIX = {"linux": "libcudart.so.13 and libcudnn.so.9 on the library path",
       "win32": "cudart64_13.dll and cudnn64_9.dll on PATH",
       "darwin": "onnxruntime has no CUDA or TensorRT on macOS"}


def test_cpu_and_auto():
    assert execution_providers("cpu") == [CPU]
    auto = execution_providers("auto")
    assert auto[-1] == CPU
    assert (CUDA in auto) == HAS_GPU


def test_unknown_device():
    with pytest.raises(ModelError, match="unknown device 'tpu'"):
        execution_providers("tpu")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("available", [GPU_BUILD, CPU_BUILD])
def test_auto_asks_for_gpu_providers_only_with_an_nvidia_gpu(platform, available):
    """onnxruntime-gpu on a machine without a GPU runs on CPU without asking for CUDA (no errors logged)."""
    assert requested_providers("auto", available, None, platform) == [CPU]
    assert requested_providers("cpu", available, "NVIDIA H100", platform) == [CPU]
    with_gpu = requested_providers("auto", available, "NVIDIA H100", platform)
    assert with_gpu == ([TENSORRT, CUDA, CPU] if CUDA in available else [CPU])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_explicit_gpu_requests(platform):
    assert requested_providers("cuda", GPU_BUILD, None, platform) == [CUDA, CPU]
    assert requested_providers("tensorrt", GPU_BUILD, None, platform) == [TENSORRT, CUDA, CPU]
    for device, provider in (("cuda", CUDA), ("tensorrt", TENSORRT)):
        with pytest.raises(ModelError) as error:
            requested_providers(device, CPU_BUILD, "NVIDIA H100", platform)
        assert f"DEVICE={device} was asked for but onnxruntime cannot use {provider} here: this build has no" \
            in str(error.value)
        assert FIX[platform] in str(error.value)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_provider_the_session_dropped(platform):
    """The session's own providers tell whether the GPU provider's libraries loaded."""
    assert provider_fallback("cuda", [CUDA, CPU], [CUDA, CPU], platform) is None
    assert provider_fallback("cpu", [CPU], [CPU], platform) is None
    with pytest.raises(ModelError) as error:
        provider_fallback("cuda", [CUDA, CPU], [CPU], platform)
    assert "DEVICE=cuda was asked for but onnxruntime cannot use CUDAExecutionProvider here: it did not load" \
        in str(error.value) and FIX[platform] in str(error.value)
    note = provider_fallback("auto", [TENSORRT, CUDA, CPU], [CUDA, CPU], platform)
    assert note.startswith("DEVICE=auto: onnxruntime cannot use TensorrtExecutionProvider here")
    assert note.endswith("the session runs on CUDAExecutionProvider")


@pytest.mark.parametrize("device, provider", [("cuda", CUDA), ("tensorrt", TENSORRT)])
def test_explicit_gpu_request_without_it_is_an_error(device, provider, conv_onnx):
    from euromine_qgis.core.engine.model import Model

    if provider_loads(provider):
        pytest.skip(f"{provider} works on this machine")
    with pytest.raises(ModelError, match=f"DEVICE={device} was asked for but onnxruntime cannot use {provider}"):
        Model(conv_onnx, device=device, scale=1.0)


@pytest.mark.parametrize("device", ["cuda", "auto"])
@pytest.mark.filterwarnings("ignore:Specified provider")
def test_model_reads_back_the_session_providers(conv_onnx, monkeypatch, device):
    """A GPU provider onnxruntime leaves out of the session: an error for DEVICE=cuda, a log line for auto."""
    from euromine_qgis.core.engine import model

    if provider_loads(CUDA):
        pytest.skip("CUDA works on this machine")
    monkeypatch.setattr(model, "execution_providers", lambda device: [CUDA, CPU])
    if device == "cuda":
        with pytest.raises(ModelError, match="DEVICE=cuda was asked for but onnxruntime cannot use CUDA"):
            model.Model(conv_onnx, device=device, scale=1.0)
        return
    loaded = model.Model(conv_onnx, device=device, scale=1.0)
    assert loaded.provider == CPU
    assert loaded.description.endswith("; DEVICE=auto: onnxruntime cannot use CUDAExecutionProvider here: it did "
                                       "not load (its CUDA, cuDNN or TensorRT libraries are missing or do not "
                                       "match) and the session runs on CPUExecutionProvider")


def test_cpu_device_name():
    assert device_name(CPU) and "NVIDIA" not in device_name(CPU)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs onnxruntime-gpu with a working CUDA")
def test_cuda_runs_with_io_binding(conv_onnx):
    import numpy as np

    from euromine_qgis.core.engine.model import Model

    gpu, cpu = Model(conv_onnx, device="cuda", scale=1.0), Model(conv_onnx, device="cpu", scale=1.0)
    assert gpu.provider == CUDA and gpu._io_binding and gpu.device_name and gpu.fallback is None
    x = np.random.default_rng(0).normal(size=(4, 10, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(gpu.positive_probability(x), cpu.positive_probability(x), atol=1e-4)
    assert ort.get_device() == "GPU"
