"""What the plugin needs from QGIS's Python, checked when it loads: numpy 1.x (QGIS's GDAL is
built for it), rasterio, onnxruntime, and on a machine with an NVIDIA GPU an onnxruntime that can
use it. Every problem comes with the exact command that fixes it on this platform: in the
OSGeo4W Shell on Windows, with the Python inside QGIS.app on macOS, with apt or QGIS's Python on
Linux.

Nothing this module diagnoses is imported at module level: it must work when they are missing.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
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


WINDOWS_SHELL = "in the OSGeo4W Shell (Start menu › QGIS › OSGeo4W Shell, run as administrator)"
MACOS_PYTHON = "/Applications/QGIS.app/Contents/MacOS/bin/python3"


def python_command(platform: str = sys.platform) -> str:
    """The interpreter that runs QGIS's Python on ``platform`` (a ``sys.platform`` value), as a
    command a person can paste.

    On Windows it is ``python3`` in the OSGeo4W Shell, which sets up QGIS's own Python. Elsewhere
    it is taken from the running Python's prefix (inside QGIS ``sys.executable`` is the QGIS
    program): on macOS the Python inside QGIS.app, on Linux the system's or the venv's.
    """
    if platform == "win32":
        return "python3"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.exec_prefix) / "bin" / version
    if candidate.exists():
        return str(candidate)
    return MACOS_PYTHON if platform == "darwin" else version


def in_shell(command: str, platform: str = sys.platform) -> str:
    """``command`` with where to run it: the OSGeo4W Shell on Windows, the Terminal on macOS."""
    if platform == "win32":
        return f"{WINDOWS_SHELL}: {command}"
    if platform == "darwin":
        return f"in the Terminal: {command}"
    return command


def _quote(argument: str, platform: str) -> str:
    """``argument`` quoted for the platform's shell: cmd.exe takes double quotes only."""
    if platform != "win32":
        return shlex.quote(argument)
    return f'"{argument}"' if any(c in argument for c in ' <>|&^"') else argument


def _pip_flags(platform: str) -> list[str]:
    """Outside a virtual environment pip installs into the user's site (Debian 12 and later also
    need --break-system-packages for that); the OSGeo4W Shell installs into QGIS's own Python."""
    if platform == "win32" or sys.prefix != sys.base_prefix:
        return []
    if (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists():
        return ["--user", "--break-system-packages"]
    return ["--user"]


def pip_install(*requirements: str, platform: str = sys.platform) -> str:
    """The pip command that installs ``requirements`` into QGIS's Python on ``platform``."""
    return " ".join([python_command(platform), "-m", "pip", "install", *_pip_flags(platform),
                     *(_quote(r, platform) for r in requirements)])


def pip_uninstall(*packages: str, platform: str = sys.platform) -> str:
    """The pip command that removes ``packages`` from QGIS's Python on ``platform``."""
    flags = [f for f in _pip_flags(platform) if f != "--user"]
    return " ".join([python_command(platform), "-m", "pip", "uninstall", "-y", *flags, *packages])


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _numpy_and_gdal(platform: str) -> list[Problem]:
    fix = in_shell(pip_install(NUMPY, platform=platform), platform)
    try:
        import numpy
    except Exception as exc:  # any failure to import leaves nothing usable
        return [Problem(f"numpy cannot be imported in QGIS's Python ({first_line(exc)}).", fix, EVERYTHING)]
    if int(numpy.__version__.split(".")[0]) < 2:
        return []
    try:
        # numpy writes a page and a stack trace on stderr before failing; the Problem says it better
        with contextlib.redirect_stderr(io.StringIO()):
            from osgeo import gdal_array  # noqa: F401
    except Exception:  # built for numpy 1.x: ImportError, or an AttributeError from the C API
        return [Problem(f"numpy {numpy.__version__} is installed in QGIS's Python ({Path(numpy.__file__).parent}), "
                        "but QGIS's GDAL bindings (osgeo.gdal_array) were built for numpy 1.x and do not load "
                        "with numpy 2, so no EuroMine algorithm can read rasters.", fix, EVERYTHING)]
    return []


def _geo_libraries(platform: str) -> list[Problem]:
    """rasterio (every raster read and write) and pyproj (pixel areas), from Debian where there is one."""
    problems = []
    debian = platform.startswith("linux") and Path("/etc/debian_version").exists()
    for module in ("rasterio", "pyproj"):
        try:
            __import__(module)
        except Exception as exc:
            fix = f"sudo apt install python3-{module}" if debian else in_shell(pip_install(module, platform=platform),
                                                                                  platform)
            problems.append(Problem(f"{module} cannot be imported in QGIS's Python ({first_line(exc)}).", fix,
                                    EVERYTHING))
    return problems


def _onnxruntime(gpu: str | None, platform: str) -> list[Problem]:
    wanted = ONNXRUNTIME_GPU if gpu else ONNXRUNTIME
    if _installed("onnxruntime") and _installed("onnxruntime-gpu"):
        return [Problem("Both onnxruntime and onnxruntime-gpu are installed in QGIS's Python; they share one "
                        "module and break each other.",
                        in_shell(f"{pip_uninstall('onnxruntime', 'onnxruntime-gpu', platform=platform)} && "
                                 f"{pip_install(wanted, platform=platform)}", platform), MODELS)]
    try:
        import onnxruntime
    except ModuleNotFoundError:
        return [Problem("onnxruntime is not installed in QGIS's Python, so the algorithms that run a model "
                        "(map footprints, map many sites) are unavailable and detect change only compares "
                        "footprints; change layers and evaluation still work.",
                        in_shell(pip_install(wanted, platform=platform), platform), MODELS)]
    except Exception as exc:
        return [Problem(f"onnxruntime cannot be imported in QGIS's Python ({first_line(exc)}), so the algorithms "
                        "that run a model are unavailable.",
                        in_shell(pip_install("--force-reinstall", wanted, NUMPY, platform=platform), platform),
                        MODELS)]
    if not gpu:
        return []
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return [Problem(f"This machine has an NVIDIA GPU ({gpu}) but the installed onnxruntime "
                        f"{onnxruntime.__version__} runs on the CPU only.",
                        in_shell(f"{pip_uninstall('onnxruntime', platform=platform)} && "
                                 f"{pip_install(ONNXRUNTIME_GPU, platform=platform)}", platform)
                        + " (onnxruntime-gpu needs CUDA 13 and cuDNN 9)", GPU)]
    return []


@lru_cache(maxsize=None)
def check_environment(platform: str = sys.platform) -> tuple[Problem, ...]:
    """Every dependency problem of this Python, worst first, with the fixes for ``platform``
    (cached: the answer does not change while QGIS runs)."""
    problems = _numpy_and_gdal(platform)
    if problems:
        return tuple(problems)  # with a numpy QGIS's GDAL cannot use, nothing else can be trusted
    return (*_geo_libraries(platform), *_onnxruntime(nvidia_gpu_name(), platform))
