"""What the plugin needs from QGIS's Python, checked when it loads: numpy 1.x (QGIS's GDAL is
built for it), rasterio, onnxruntime, and on a machine with an NVIDIA GPU an onnxruntime that can
use it. Every problem comes with the exact command that fixes it.

Nothing this module diagnoses is imported at module level: it must work when they are missing.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import shlex
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .core.engine.hardware import nvidia_gpu_name
from .core.errors import first_line

# The plugin's pins (requirements.txt; a unit test keeps them equal).
ONNXRUNTIME = "onnxruntime==1.31.1"
ONNXRUNTIME_GPU = "onnxruntime-gpu==1.31.1"
NUMPY = "numpy<2"

EVERYTHING, MODELS, GPU = "everything", "models", "gpu"  # what a problem takes away


@dataclass(frozen=True)
class Problem:
    """A missing or mismatched dependency, what it takes away (EVERYTHING, MODELS or GPU) and the fix."""

    summary: str
    fix: str
    affects: str

    def message(self) -> str:
        return f"{self.summary} Fix: {self.fix}"


def python_command() -> str:
    """The interpreter that runs QGIS's Python, as a command a person can paste.

    Taken from the running Python's prefix: inside QGIS ``sys.executable`` is the QGIS program, or
    whatever ``python3`` comes first on PATH.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    prefix = Path(sys.exec_prefix)
    candidate = prefix / "python.exe" if os.name == "nt" else prefix / "bin" / version
    return str(candidate) if candidate.exists() else version


def pip_install(*requirements: str) -> str:
    """The pip command that installs ``requirements`` into QGIS's Python (the user's site outside a
    virtual environment; Debian 12 and later also need --break-system-packages for that)."""
    flags = []
    if sys.prefix == sys.base_prefix:
        flags.append("--user")
        if (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists():
            flags.append("--break-system-packages")
    return " ".join([python_command(), "-m", "pip", "install", *flags, *(shlex.quote(r) for r in requirements)])


def pip_uninstall(*packages: str) -> str:
    """The pip command that removes ``packages`` from QGIS's Python."""
    flags = ["--break-system-packages"] if sys.prefix == sys.base_prefix and \
        (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists() else []
    return " ".join([python_command(), "-m", "pip", "uninstall", "-y", *flags, *packages])


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _numpy_and_gdal() -> list[Problem]:
    try:
        import numpy
    except Exception as exc:  # any failure to import leaves nothing usable
        return [Problem(f"numpy cannot be imported in QGIS's Python ({first_line(exc)}).", pip_install(NUMPY), EVERYTHING)]
    if int(numpy.__version__.split(".")[0]) < 2:
        return []
    try:
        # numpy writes a page and a stack trace on stderr before failing; the Problem says it better
        with contextlib.redirect_stderr(io.StringIO()):
            from osgeo import gdal_array  # noqa: F401
    except Exception:  # built for numpy 1.x: ImportError, or an AttributeError from the C API
        return [Problem(f"numpy {numpy.__version__} is installed in QGIS's Python ({Path(numpy.__file__).parent}), "
                        "but QGIS's GDAL bindings (osgeo.gdal_array) were built for numpy 1.x and do not load "
                        "with numpy 2, so no EuroMine algorithm can read rasters.", pip_install(NUMPY), EVERYTHING)]
    return []


def _geo_libraries() -> list[Problem]:
    """rasterio (every raster read and write) and pyproj (pixel areas), from Debian where there is one."""
    problems = []
    for module in ("rasterio", "pyproj"):
        try:
            __import__(module)
        except Exception as exc:
            fix = (f"sudo apt install python3-{module}" if Path("/etc/debian_version").exists()
                   else pip_install(module))
            problems.append(Problem(f"{module} cannot be imported in QGIS's Python ({first_line(exc)}).", fix,
                                    EVERYTHING))
    return problems


def _onnxruntime(gpu: str | None) -> list[Problem]:
    wanted = ONNXRUNTIME_GPU if gpu else ONNXRUNTIME
    if _installed("onnxruntime") and _installed("onnxruntime-gpu"):
        return [Problem("Both onnxruntime and onnxruntime-gpu are installed in QGIS's Python; they share one "
                        "module and break each other.",
                        f"{pip_uninstall('onnxruntime', 'onnxruntime-gpu')} && {pip_install(wanted)}", MODELS)]
    try:
        import onnxruntime
    except ModuleNotFoundError:
        return [Problem("onnxruntime is not installed in QGIS's Python, so the algorithms that run a model "
                        "(map footprints, map many sites) are unavailable and detect change only compares "
                        "footprints; change layers and evaluation still work.", pip_install(wanted), MODELS)]
    except Exception as exc:
        return [Problem(f"onnxruntime cannot be imported in QGIS's Python ({first_line(exc)}), so the algorithms "
                        "that run a model are unavailable.", pip_install("--force-reinstall", wanted, NUMPY), MODELS)]
    if not gpu:
        return []
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return [Problem(f"This machine has an NVIDIA GPU ({gpu}) but the installed onnxruntime "
                        f"{onnxruntime.__version__} runs on the CPU only.",
                        f"{pip_uninstall('onnxruntime')} && {pip_install(ONNXRUNTIME_GPU)} "
                        "(onnxruntime-gpu needs CUDA 13 and cuDNN 9)", GPU)]
    return []


@lru_cache(maxsize=None)
def check_environment() -> tuple[Problem, ...]:
    """Every dependency problem of this Python, worst first (cached: the answer does not change
    while QGIS runs)."""
    problems = _numpy_and_gdal()
    if problems:
        return tuple(problems)  # with a numpy QGIS's GDAL cannot use, nothing else can be trusted
    return (*_geo_libraries(), *_onnxruntime(nvidia_gpu_name()))
