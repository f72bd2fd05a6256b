"""What the installer installs, where, and with which command, decided from facts passed in (the
platform, the GPU, the packages QGIS's Python already has), so each decision is a plain function.

- The build: onnxruntime-gpu where an NVIDIA GPU is found (nvidia-smi or the driver) and the CUDA
  runtime and cuDNN that build loads are found too (Linux: ``libcudart.so.13`` and ``libcudnn.so.9``
  load; Windows: ``cudart64_13.dll`` and ``cudnn64_9.dll`` lie on ``PATH``); otherwise, and always on
  macOS, onnxruntime. DEVICE=cpu or gpu overrides the rule.
- The folder: ``<profile>/python/dependencies/euromine_qgis/onnxruntime-<ABI>`` (e.g.
  ``onnxruntime-cp312``), one per Python ABI, never QGIS's site-packages. It is appended to
  ``sys.path``, so every package QGIS's Python has comes first.
- The command: QGIS's own interpreter runs ``pip install --target`` with ``--no-deps`` and an explicit
  list: the build and those of its requirements QGIS's Python does not have. numpy is not on the list
  (QGIS's Python always has it), so pip never installs, upgrades or downgrades QGIS's numpy, GDAL or
  PyQt. Wheels only: nothing is compiled. The same command, aimed at the folder, is the manual one.
"""
from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePath

from ..core.archive.packages import ARCHIVE_MODULE, ARCHIVE_PINS
from ..core.engine.hardware import CUDA_LIBRARIES
from ..core.errors import EuroMineError
from .platforms import Platform, command_line, in_shell, python_candidates, python_interpreter

ONNXRUNTIME_VERSION = "1.31.1"  # requirements.txt pins the same (a unit test keeps them equal)
CPU_BUILD, GPU_BUILD = "onnxruntime", "onnxruntime-gpu"
# onnxruntime's requirements other than numpy (a unit test checks them against its metadata); with
# --no-deps, the ones QGIS's Python lacks are named on pip's command line
RUNTIME_REQUIREMENTS = ("flatbuffers", "packaging", "protobuf>=4.25.8")
DEVICES = ("auto", "cpu", "gpu")
# The archive packages of the composites (euromine:composites, pinned in core.archive.packages), and their
# requirements that QGIS's Python may lack (named on pip's command line where it does, as for onnxruntime)
ARCHIVE = "archive"
ARCHIVE_REQUIREMENTS = ("python-dateutil>=2.8.2", "six", "requests>=2.28.2", "urllib3", "idna", "charset-normalizer",
                        "certifi")
PACKAGES = ("onnxruntime", ARCHIVE)
# where a profile keeps what plugins install (QGIS's own convention for python/ under the profile)
FOLDER_PARTS = ("python", "dependencies", "euromine_qgis")


class InstallError(EuroMineError):
    """The dependencies could not be installed; the message says why and gives the manual command."""


def canonical_name(requirement: str) -> str:
    """The distribution name of a requirement (``protobuf>=4.25.8`` -> ``protobuf``), normalised as
    pip compares names (PEP 503)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    if name is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def install_folder(settings_dir: str, platform: Platform) -> PurePath:
    """The private folder of the profile at ``settings_dir`` that holds onnxruntime for this Python ABI."""
    return platform.path(settings_dir, *FOLDER_PARTS, f"onnxruntime-{platform.abi}")


def archive_folder(settings_dir: str, platform: Platform) -> PurePath:
    """The private folder of the profile at ``settings_dir`` that holds the archive packages for this Python ABI."""
    return platform.path(settings_dir, *FOLDER_PARTS, f"{ARCHIVE}-{platform.abi}")


def cuda_runtime_found(platform: Platform) -> bool:
    """Whether the CUDA runtime and cuDNN libraries onnxruntime-gpu loads are found on this machine."""
    libraries = CUDA_LIBRARIES.get(platform.system, ())
    if not libraries:  # macOS
        return False
    if platform.windows:
        folders = [f for f in os.environ.get("PATH", "").split(os.pathsep) if f]
        return all(any((Path(f) / name).is_file() for f in folders) for name in libraries)
    try:
        for name in libraries:
            ctypes.CDLL(name)  # the loader's own search: the same one onnxruntime-gpu's will make
    except OSError:
        return False
    return True


def choose_build(device: str, platform: Platform, gpu: str | None, cuda_runtime: bool) -> str:
    """The onnxruntime build for DEVICE (auto | cpu | gpu) on ``platform``, given the machine's NVIDIA
    ``gpu`` (None: none) and whether its CUDA runtime and cuDNN are found."""
    if device not in DEVICES:
        raise InstallError(f"unknown DEVICE '{device}' (expected one of {', '.join(DEVICES)})")
    if device == "gpu" and platform.system == "darwin":
        raise InstallError("onnxruntime-gpu has no build for macOS (onnxruntime has no CUDA there): choose "
                           "DEVICE=auto or cpu")
    if device == "gpu" or (device == "auto" and gpu is not None and cuda_runtime and platform.system != "darwin"):
        return GPU_BUILD
    return CPU_BUILD


@dataclass(frozen=True)
class Plan:
    """One install: which interpreter runs pip, what it installs, and into which folder."""

    platform: Platform
    python: str
    folder: PurePath
    build: str  # onnxruntime's build, or ARCHIVE
    requirements: tuple[str, ...]  # the build (or ARCHIVE_PINS) pinned, then the requirements QGIS's Python lacks
    module: str  # what must import from the finished install

    def pip_arguments(self, target: str | PurePath) -> list[str]:
        """pip's command line, installing into ``target``."""
        return [self.python, "-m", "pip", "install", "--target", str(target), "--upgrade", "--no-deps",
                "--only-binary=:all:", "--no-input", "--disable-pip-version-check", "--no-warn-script-location",
                *self.requirements]

    def manual_command(self) -> str:
        """The same install as a person runs it, straight into the folder, with where to run it."""
        return in_shell(command_line(self.pip_arguments(self.folder), self.platform), self.platform)


def plan_install(device: str, settings_dir: str, platform: Platform, gpu: str | None, cuda_runtime: bool,
                 installed: set[str]) -> Plan:
    """The install for DEVICE into the profile at ``settings_dir``, given the machine's GPU facts and
    the (canonical) names of the distributions QGIS's Python already has."""
    build = choose_build(device, platform, gpu, cuda_runtime)
    missing = tuple(r for r in RUNTIME_REQUIREMENTS if canonical_name(r) not in installed)
    return Plan(platform=platform, python=_interpreter(platform), folder=install_folder(settings_dir, platform),
                build=build, requirements=(f"{build}=={ONNXRUNTIME_VERSION}", *missing), module="onnxruntime")


def plan_archive_install(settings_dir: str, platform: Platform, installed: set[str]) -> Plan:
    """The install of the archive packages into the profile at ``settings_dir``, given the (canonical)
    names of the distributions QGIS's Python already has."""
    missing = tuple(r for r in ARCHIVE_REQUIREMENTS if canonical_name(r) not in installed)
    return Plan(platform=platform, python=_interpreter(platform), folder=archive_folder(settings_dir, platform),
                build=ARCHIVE, requirements=(*ARCHIVE_PINS, *missing), module=ARCHIVE_MODULE)


def _interpreter(platform: Platform) -> str:
    python = python_interpreter(platform)
    if python is None:
        raise InstallError("QGIS's Python interpreter was not found (looked for "
                           f"{', '.join(python_candidates(platform))})")
    return python
