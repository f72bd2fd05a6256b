"""What this machine's devices are called: the NVIDIA GPU (through nvidia-smi or the driver's
/proc entries), the CPU model and the CPU's instruction sets that set int8's speed. Needs no
onnxruntime, so the plugin's dependency check can ask before onnxruntime is known to load."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
from functools import cache
from pathlib import Path

# The CUDA runtime and cuDNN libraries onnxruntime-gpu's build loads, by platform (macOS has none)
CUDA_LIBRARIES = {"win32": ("cudart64_13.dll", "cudnn64_9.dll"), "linux": ("libcudart.so.13", "libcudnn.so.9")}
# The instruction sets onnxruntime's int8 and bf16 CPU kernels pick up where the CPU has them, as
# Linux names them in /proc/cpuinfo: without VNNI or AMX an int8 multiply-add takes several
# instructions, so whether int8 beats fp32 depends on them.
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


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


@cache
def cpu_flags() -> tuple[str, ...]:
    """The ISA_FLAGS this CPU reports, in ISA_FLAGS' order; none where the system does not list them
    (outside Linux). Read from /proc/cpuinfo by hand: py-cpuinfo, which also covers other systems,
    starts a Python subprocess of its own to run CPUID, a cost every auto run would pay."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        if line.startswith("flags"):
            found = set(line.split(":", 1)[1].split())
            return tuple(flag for flag in ISA_FLAGS if flag in found)
    return ()


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system keeps one (a container's
    or taskset's limit), else every core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
