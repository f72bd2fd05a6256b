"""Execution providers: which onnxruntime providers to ask for, and what a session got instead.

Only onnxruntime's own answers are used (its build's providers, the providers a session reports
after it is created), so the same rules hold on Linux, Windows and macOS.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from ..errors import ModelError
from .hardware import CUDA_LIBRARIES, cpu_name, nvidia_gpu_name

DEVICES = ("auto", "tensorrt", "cuda", "cpu")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)
_ASKED = {"tensorrt": TENSORRT, "cuda": CUDA}


def gpu_fix(platform: str) -> str:
    """What makes onnxruntime's GPU providers work on ``platform`` (a ``sys.platform`` value)."""
    if platform == "darwin":
        return "onnxruntime has no CUDA or TensorRT on macOS: choose DEVICE=auto or cpu"
    libraries = " and ".join(CUDA_LIBRARIES["win32" if platform == "win32" else "linux"]) + (
        " on PATH" if platform == "win32" else " on the library path")
    return (f"install onnxruntime-gpu with CUDA 13 and cuDNN 9 ({libraries}; TensorRT too for "
            "DEVICE=tensorrt), or choose DEVICE=auto or cpu")


def requested_providers(device: str, available: Sequence[str], gpu: str | None, platform: str) -> list[str]:
    """The onnxruntime providers to ask for, best first, for DEVICE = auto | tensorrt | cuda | cpu,
    given the build's ``available`` providers and the machine's NVIDIA ``gpu`` (None: none).

    ``auto`` asks for the GPU providers of the build only on a machine with an NVIDIA GPU: asking
    elsewhere makes onnxruntime-gpu log its failure to load CUDA before it falls back. An explicit
    GPU request the build cannot meet is an error, never a silent fallback.
    """
    if device not in DEVICES:
        raise ModelError(f"unknown device '{device}' (expected one of {', '.join(DEVICES)})")
    if device == "cpu" or (device == "auto" and gpu is None):
        return [CPU]
    if device == "auto":
        return [p for p in GPU_PROVIDERS if p in available] + [CPU]
    provider = _ASKED[device]
    if provider not in available:
        raise ModelError(f"DEVICE={device} was asked for but onnxruntime cannot use {provider} here: this "
                         f"build has no {provider} (available providers: {', '.join(available)}); "
                         f"{gpu_fix(platform)}")
    # TensorRT hands the nodes it cannot build to CUDA
    helper = [CUDA] if provider == TENSORRT and CUDA in available else []
    return [provider, *helper, CPU]


def provider_fallback(device: str, requested: Sequence[str], granted: Sequence[str], platform: str) -> str | None:
    """Why a session runs on ``granted[0]`` rather than the ``requested[0]`` it was asked for
    (onnxruntime drops a provider whose libraries do not load), or None when it got it.

    For an explicit DEVICE that is a ModelError; for ``auto`` the returned line is for the log.
    """
    if not granted or granted[0] == requested[0]:
        return None
    why = (f"onnxruntime cannot use {requested[0]} here: it did not load (its CUDA, cuDNN or TensorRT "
           f"libraries are missing or do not match) and the session runs on {granted[0]}")
    if device != "auto":
        raise ModelError(f"DEVICE={device} was asked for but {why}; {gpu_fix(platform)}")
    return f"DEVICE=auto: {why}"


@cache
def preload_gpu_libraries() -> None:
    """Let onnxruntime load the CUDA and cuDNN libraries of NVIDIA's pip packages (and on Windows
    the MSVC runtime) where the installed version can (onnxruntime.preload_dlls, 1.21 and later)."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()


def execution_providers(device: str) -> list[str]:
    """requested_providers for this machine and onnxruntime build (see there), with the GPU
    libraries preloaded when a GPU provider is asked for."""
    import onnxruntime as ort

    gpu = nvidia_gpu_name() if device == "auto" else None
    providers = requested_providers(device, ort.get_available_providers(), gpu, sys.platform)
    if providers[0] != CPU:
        preload_gpu_libraries()
    return providers


def provider_loads(provider: str) -> bool:
    """Whether ``provider`` can be asked for here: CPU always, a GPU provider where this onnxruntime
    build has it and the machine an NVIDIA GPU. Whether its libraries load shows only when a
    session is created (provider_fallback)."""
    if provider == CPU:
        return True
    import onnxruntime as ort

    return provider in ort.get_available_providers() and nvidia_gpu_name() is not None


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
