"""Execution providers: which onnxruntime providers can run here, and what the device is."""
from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

from ..errors import ModelError
from .hardware import cpu_name, nvidia_gpu_name

DEVICES = ("auto", "tensorrt", "cuda", "cpu")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)

_PROVIDER_LIBRARY = {CUDA: "libonnxruntime_providers_cuda.so", TENSORRT: "libonnxruntime_providers_tensorrt.so"}


@lru_cache(maxsize=None)
def provider_load_error(provider: str) -> str | None:
    """Why onnxruntime cannot use ``provider`` here (not in this build, or its shared library with
    CUDA, cuDNN or TensorRT behind it does not load), or None when it can.

    Asking onnxruntime for a GPU provider whose libraries are missing makes it log errors before
    falling back; loading the provider library first keeps CPU-only users free of that noise.
    """
    if provider == CPU:
        return None
    import onnxruntime as ort

    if provider not in ort.get_available_providers():
        return f"this onnxruntime build has no {provider}"
    try:
        ctypes.CDLL(str(Path(ort.__file__).parent / "capi" / _PROVIDER_LIBRARY[provider]))
    except OSError as exc:
        return str(exc)
    return None


def provider_loads(provider: str) -> bool:
    """Whether onnxruntime can use ``provider`` here (see provider_load_error)."""
    return provider_load_error(provider) is None


def execution_providers(device: str) -> list[str]:
    """The onnxruntime providers to ask for, best first, for DEVICE = auto | tensorrt | cuda | cpu.

    ``auto`` takes the best provider that loads (TensorRT, then CUDA) and falls back to CPU; an
    explicit GPU request that cannot be met is an error, never a silent fallback.
    """
    if device not in DEVICES:
        raise ModelError(f"unknown device '{device}' (expected one of {', '.join(DEVICES)})")
    if device == "cpu":
        return [CPU]
    wanted = {"auto": GPU_PROVIDERS, "tensorrt": (TENSORRT,), "cuda": (CUDA,)}[device]
    usable = [p for p in wanted if provider_loads(p)]
    if device != "auto" and not usable:
        import onnxruntime as ort

        raise ModelError(
            f"DEVICE={device} was asked for but onnxruntime cannot use {wanted[0]} here "
            f"(available providers: {', '.join(ort.get_available_providers())}); install "
            "onnxruntime-gpu with CUDA 13 and cuDNN 9 (and TensorRT for DEVICE=tensorrt), "
            "or choose DEVICE=auto or cpu"
        )
    if TENSORRT in usable and provider_loads(CUDA):
        usable.append(CUDA)  # TensorRT hands the nodes it cannot build to CUDA
    return usable + [CPU]


def provider_options(provider: str, cache_dir: Path) -> dict[str, str]:
    """Options for one provider: TensorRT keeps its built engines in ``cache_dir`` so that the
    minutes an engine build takes are spent once per model and tile size, not every run."""
    if provider == TENSORRT:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache_dir)}
    return {}


def device_name(provider: str) -> str:
    """Human name of the device a provider runs on: the GPU's name, or the CPU's model."""
    if provider in GPU_PROVIDERS:
        return nvidia_gpu_name() or "NVIDIA GPU"
    return cpu_name()
