"""What the plugin needs from QGIS's Python, checked when it loads: a numpy that QGIS's GDAL loads
with, rasterio, pyproj, onnxruntime, and on a machine with an NVIDIA GPU an onnxruntime that can use
it. Every problem comes with its fix: the plugin's installer (dependencies/) where onnxruntime is
missing, else the exact command for this platform: in the OSGeo4W Shell on Windows, with the Python
inside QGIS.app on macOS, with apt or QGIS's Python on Linux. A pip command that installs something
numpy-dependent names QGIS's own numpy version, so pip keeps it.

Nothing this module diagnoses is imported at module level: it must work when they are missing.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .core.engine.hardware import nvidia_gpu_name
from .core.errors import first_line
from .dependencies.install import MARKER
from .dependencies.plan import CPU_BUILD, GPU_BUILD, ONNXRUNTIME_VERSION
from .dependencies.platforms import Platform, command_line, in_shell, python_interpreter

ONNXRUNTIME = f"{CPU_BUILD}=={ONNXRUNTIME_VERSION}"
ONNXRUNTIME_GPU = f"{GPU_BUILD}=={ONNXRUNTIME_VERSION}"
# Only for QGIS 3.22-era GDAL bindings built for numpy 1.x; a numpy-2 GDAL never gets this advice
NUMPY = "numpy<2"
INSTALLER = ("click Install on this message in QGIS, or run the Processing algorithm “Install dependencies” "
             "(euromine:installdependencies; qgis_process run euromine:installdependencies)")
GPU_INSTALLER = ("run the Processing algorithm “Install dependencies” with DEVICE=gpu (qgis_process run "
                 "euromine:installdependencies -- DEVICE=gpu), then restart QGIS")

EVERYTHING, MODELS, GPU = "everything", "models", "gpu"  # what a problem takes away


@dataclass(frozen=True)
class Problem:
    """A missing or mismatched dependency, what it takes away (EVERYTHING, MODELS or GPU) and the
    fix; ``installable`` when the plugin's installer is the fix."""

    summary: str
    fix: str
    affects: str
    installable: bool = False

    def message(self) -> str:
        return f"{self.summary} Fix: {self.fix}"


def python_command(platform: Platform) -> str:
    """QGIS's Python interpreter on ``platform`` as a person types it: its path where it is found,
    else ``python3`` (the OSGeo4W Shell's on Windows)."""
    return python_interpreter(platform) or "python3"


def _pip_flags(platform: Platform) -> list[str]:
    """Outside a virtual environment pip installs into the user's site (an externally managed
    Python, as Debian's, also needs --break-system-packages for that); the OSGeo4W Shell installs
    into QGIS's own Python."""
    if platform.windows or platform.in_venv:
        return []
    return ["--user", "--break-system-packages"] if platform.externally_managed else ["--user"]


def pip_install(*requirements: str, platform: Platform) -> str:
    """The pip command that installs ``requirements`` into QGIS's Python on ``platform``."""
    return command_line([python_command(platform), "-m", "pip", "install", *_pip_flags(platform), *requirements],
                        platform)


def pip_uninstall(*packages: str, platform: Platform) -> str:
    """The pip command that removes ``packages`` from QGIS's Python on ``platform``."""
    flags = [f for f in _pip_flags(platform) if f != "--user"]
    return command_line([python_command(platform), "-m", "pip", "uninstall", "-y", *flags, *packages], platform)


def _distribution(name: str) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _from_installer(distribution: importlib.metadata.Distribution) -> bool:
    """Whether ``distribution`` lies in the folder the plugin's installer wrote."""
    return (Path(distribution.locate_file("")) / MARKER).is_file()


def _numpy_and_gdal(platform: Platform) -> list[Problem]:
    try:
        import numpy
    except Exception as exc:  # any failure to import leaves nothing usable
        debian = platform.system == "linux" and Path("/etc/debian_version").exists()
        fix = "sudo apt install --reinstall python3-numpy" if debian else "reinstall QGIS, which brings its numpy"
        return [Problem(f"numpy cannot be imported in QGIS's Python ({first_line(exc)}).", fix, EVERYTHING)]
    if int(numpy.__version__.split(".")[0]) < 2:
        return []
    try:
        # numpy writes a page and a stack trace on stderr before failing; the Problem says it better
        with contextlib.redirect_stderr(io.StringIO()):
            from osgeo import gdal_array  # noqa: F401 (imported to see whether it loads)
    except Exception:  # built for numpy 1.x: ImportError, or an AttributeError from the C API
        return [Problem(f"numpy {numpy.__version__} is installed in QGIS's Python ({Path(numpy.__file__).parent}), "
                        "but QGIS's GDAL bindings (osgeo.gdal_array) were built for numpy 1.x and do not load "
                        "with numpy 2, so no EuroMine algorithm can read rasters.",
                        in_shell(pip_install(NUMPY, platform=platform), platform, administrator=True), EVERYTHING)]
    return []


def _keep_numpy() -> str:
    """A requirement on the numpy QGIS's Python has, so that pip leaves it as it is."""
    import numpy

    return f"numpy=={numpy.__version__}"


def _geo_libraries(platform: Platform) -> list[Problem]:
    """rasterio (every raster read and write) and pyproj (pixel areas), from Debian where there is one."""
    problems = []
    debian = platform.system == "linux" and Path("/etc/debian_version").exists()
    for module in ("rasterio", "pyproj"):
        try:
            __import__(module)
        except Exception as exc:
            fix = (f"sudo apt install python3-{module}" if debian else
                   in_shell(pip_install(module, _keep_numpy(), platform=platform), platform, administrator=True))
            problems.append(Problem(f"{module} cannot be imported in QGIS's Python ({first_line(exc)}).", fix,
                                    EVERYTHING))
    return problems


def _onnxruntime(gpu: str | None, platform: Platform) -> list[Problem]:
    cpu_build, gpu_build = _distribution(CPU_BUILD), _distribution(GPU_BUILD)
    if cpu_build is not None and gpu_build is not None:
        wanted = ONNXRUNTIME_GPU if gpu else ONNXRUNTIME
        return [Problem("Both onnxruntime and onnxruntime-gpu are installed in QGIS's Python; they share one "
                        "module and break each other.",
                        in_shell(f"{pip_uninstall(CPU_BUILD, GPU_BUILD, platform=platform)} && "
                                 f"{pip_install(wanted, _keep_numpy(), platform=platform)}", platform,
                                 administrator=True), MODELS)]
    installed = cpu_build or gpu_build
    try:
        import onnxruntime
    except ModuleNotFoundError:
        return [Problem("onnxruntime is not installed in QGIS's Python, so the algorithms that run a model "
                        "(map footprints, map many sites) are unavailable and detect change only compares "
                        "footprints; change layers and evaluation still work.", INSTALLER, MODELS, installable=True)]
    except Exception as exc:
        fix = (INSTALLER if installed is None or _from_installer(installed) else
               in_shell(pip_install("--force-reinstall", "--no-deps", f"{installed.metadata['Name']}=="
                                    f"{ONNXRUNTIME_VERSION}", platform=platform), platform, administrator=True))
        return [Problem(f"onnxruntime cannot be imported in QGIS's Python ({first_line(exc)}), so the algorithms "
                        "that run a model are unavailable.", fix, MODELS, installable=fix == INSTALLER)]
    if not gpu or "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return []
    if installed is not None and _from_installer(installed):
        fix = GPU_INSTALLER
    else:
        fix = in_shell(f"{pip_uninstall(CPU_BUILD, platform=platform)} && "
                       f"{pip_install(ONNXRUNTIME_GPU, _keep_numpy(), platform=platform)}",
                       platform, administrator=True)
    return [Problem(f"This machine has an NVIDIA GPU ({gpu}) but the installed onnxruntime "
                    f"{onnxruntime.__version__} runs on the CPU only.",
                    f"{fix} (onnxruntime-gpu needs CUDA 13 and cuDNN 9)", GPU)]


@cache
def check_environment(platform: Platform | None = None) -> tuple[Problem, ...]:
    """Every dependency problem of this Python, worst first, with the fixes for ``platform`` (this
    Python's when None; cached: the answer changes only when the installer runs, which clears it)."""
    platform = platform or Platform.current()
    problems = _numpy_and_gdal(platform)
    if problems:
        return tuple(problems)  # with a numpy QGIS's GDAL cannot use, nothing else can be trusted
    return (*_geo_libraries(platform), *_onnxruntime(nvidia_gpu_name(), platform))
