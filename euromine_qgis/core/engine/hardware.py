"""What this machine's devices are called: the NVIDIA GPU (through nvidia-smi or the driver's
/proc entries) and the CPU model. Needs no onnxruntime, so the plugin's dependency check can ask
before onnxruntime is known to load."""
from __future__ import annotations

import platform
import shutil
import subprocess
from functools import cache
from pathlib import Path

# The CUDA runtime and cuDNN libraries onnxruntime-gpu's build loads, by platform (macOS has none)
CUDA_LIBRARIES = {"win32": ("cudart64_13.dll", "cudnn64_9.dll"), "linux": ("libcudart.so.13", "libcudnn.so.9")}


@cache
def nvidia_gpu_name() -> str | None:
    """The name of the first NVIDIA GPU of this machine, or None when it has none."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader", "-i", "0"],
                                 capture_output=True, text=True, timeout=20)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired):
            pass
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("Model:"):
                return line.split(":", 1)[1].strip()
    return None


@cache
def cpu_name() -> str:
    """The CPU's model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"
