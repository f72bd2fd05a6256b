"""What the GPU tests and `make gpu-check` (scripts/gpu_check.py) share: whether onnxruntime really
runs on an NVIDIA GPU here, whether TensorRT's libraries load, the GPU's memory as nvidia-smi
reports it, and a real allocation of most of that memory for the out-of-memory test.

Without a GPU the tests marked ``gpu`` skip (``make test``); with EUROMINE_REQUIRE_GPU=1 (set by
``make gpu-check``) they run anyway, so a GPU that does not work fails them instead.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest

from euromine_qgis.core.engine.devices import CUDA
from euromine_qgis.core.engine.hardware import nvidia_gpu_name

REQUIRE_ENV = "EUROMINE_REQUIRE_GPU"
# Probability tolerance between the GPU and the CPU: onnxruntime's CUDA convolutions may run in
# TF32 (10-bit mantissa inputs) and pick other algorithms than the CPU's, so logits differ by ~1e-3.
GPU_TOLERANCE = 2e-3
TENSORRT_LIBRARIES = ("libnvinfer.so.10", "libnvonnxparser.so.10")


@cache
def cuda_problem() -> str | None:
    """Why the engine cannot run on an NVIDIA GPU through onnxruntime here (one line), or None
    when a model session on CUDAExecutionProvider really gets it."""
    import onnxruntime as ort

    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.errors import ModelError

    if nvidia_gpu_name() is None:
        return "no NVIDIA GPU here (neither nvidia-smi nor /proc/driver/nvidia finds one)"
    if CUDA not in ort.get_available_providers():
        return (f"onnxruntime {ort.__version__} ({os.path.dirname(ort.__file__)}) has no {CUDA} "
                f"(providers: {', '.join(ort.get_available_providers())}): install onnxruntime-gpu")
    try:
        Model(resolve_bundled("spectral_baseline"), device="cuda", scale=1.0)
    except ModelError as exc:
        return str(exc)
    return None


def gpu_required() -> bool:
    """Whether this run was asked to check a GPU (make gpu-check), so GPU tests must not skip."""
    return os.environ.get(REQUIRE_ENV) == "1"


def requires_cuda() -> pytest.MarkDecorator:
    """Skip without a working GPU, unless the run was asked to check one (then the tests fail)."""
    return pytest.mark.skipif(not gpu_required() and cuda_problem() is not None,
                              reason=f"needs onnxruntime-gpu with a working CUDA ({REQUIRE_ENV}=1 to fail instead)")


def tensorrt_problem() -> str | None:
    """Why TensorRT's libraries do not load here, or None when they do (onnxruntime-gpu's TensorRT
    provider needs them; pip's nvidia packages do not include them)."""
    for name in TENSORRT_LIBRARIES:
        try:
            ctypes.CDLL(name)
        except OSError as exc:
            return f"TensorRT does not load here: {exc}"
    return None


def nvidia_smi(*fields: str) -> list[str]:
    """The first GPU's ``fields`` (nvidia-smi --query-gpu names) without units, or [] without nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    out = subprocess.run([smi, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits", "-i", "0"],
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        return []
    return [v.strip() for v in out.stdout.strip().splitlines()[0].split(",")]


def free_gpu_mib() -> int:
    """Free memory of the first GPU in MiB, as nvidia-smi reports it."""
    values = nvidia_smi("memory.free")
    if not values:
        raise RuntimeError("nvidia-smi does not report the GPU's free memory")
    return int(values[0])


@contextmanager
def holding_gpu_memory(leave_mib: int) -> Iterator[int]:
    """Allocate all but ``leave_mib`` MiB of the GPU's free memory (one real cudaMalloc through
    onnxruntime's CUDA allocator) for the duration; yields the MiB held."""
    import numpy as np
    import onnxruntime as ort

    held = free_gpu_mib() - leave_mib
    if held <= 0:
        raise RuntimeError(f"only {free_gpu_mib()} MiB of GPU memory are free; cannot leave {leave_mib} MiB")
    block = ort.OrtValue.ortvalue_from_shape_and_type([held, 1 << 20], np.uint8, "cuda", 0)
    try:
        yield held
    finally:
        del block


class GpuMemoryWatch:
    """The peak of the GPU's used memory while it runs, from nvidia-smi sampling every 100 ms
    (the device's whole memory: run nothing else on it meanwhile). ``peak_mib`` is None without nvidia-smi."""

    def __init__(self) -> None:
        self.peak_mib: int | None = None
        self.baseline_mib: int | None = None
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> GpuMemoryWatch:
        smi = shutil.which("nvidia-smi")
        used = nvidia_smi("memory.used")
        if smi and used:
            self.baseline_mib = int(used[0])
            self._process = subprocess.Popen(
                [smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0", "-lms", "100"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._process is None:
            return
        last = nvidia_smi("memory.used")
        self._process.terminate()
        out, _ = self._process.communicate(timeout=30)
        samples = [int(v) for v in out.split() if v.isdigit()] + [int(v) for v in last]
        self.peak_mib = max(samples, default=self.baseline_mib)
