"""The installer's decisions for Windows, macOS and Linux, each platform described by its facts
(the running Python's or a QGIS install's): interpreter, folder, build and the pip command."""
from __future__ import annotations

import importlib.metadata
import re
import sys

import pytest

from euromine_qgis.dependencies.plan import (
    CPU_BUILD,
    GPU_BUILD,
    ONNXRUNTIME_VERSION,
    RUNTIME_REQUIREMENTS,
    InstallError,
    canonical_name,
    choose_build,
    plan_install,
)
from euromine_qgis.dependencies.platforms import Platform, python_interpreter
from tests.e2e.conftest import REPO

OSGEO4W = r"C:\OSGeo4W\apps\Python312"
WINDOWS = Platform(system="win32", executable=r"C:\OSGeo4W\bin\qgis-bin.exe", prefix=OSGEO4W, version=(3, 12),
                   abi="cp312", exists={rf"{OSGEO4W}\python.exe"}.__contains__)
STANDALONE = r"C:\Program Files\QGIS 3.44.2\apps\Python312"
WINDOWS_STANDALONE = Platform(system="win32", executable=r"C:\Program Files\QGIS 3.44.2\bin\qgis.exe",
                              prefix=STANDALONE, version=(3, 12), abi="cp312",
                              exists={rf"{STANDALONE}\python3.exe"}.__contains__)
APP = "/Applications/QGIS-LTR.app"
MACOS = Platform(system="darwin", executable=f"{APP}/Contents/MacOS/QGIS", prefix=f"{APP}/Contents/Frameworks",
                 version=(3, 12), abi="cp312", exists={f"{APP}/Contents/MacOS/bin/python3"}.__contains__)
DEBIAN = Platform(system="linux", executable="/usr/bin/qgis_process.bin", prefix="/usr", version=(3, 13),
                  abi="cp313", externally_managed=True, exists={"/usr/bin/python3.13"}.__contains__)
WINDOWS_PROFILE = r"C:\Users\Ana Sousa\AppData\Roaming\QGIS\QGIS3\profiles\default"
MACOS_PROFILE = "/Users/ana/Library/Application Support/QGIS/QGIS3/profiles/default"


def test_interpreter_is_never_the_qgis_program():
    assert python_interpreter(WINDOWS) == rf"{OSGEO4W}\python.exe"
    assert python_interpreter(WINDOWS_STANDALONE) == rf"{STANDALONE}\python3.exe"
    assert python_interpreter(MACOS) == f"{APP}/Contents/MacOS/bin/python3"
    assert python_interpreter(DEBIAN) == "/usr/bin/python3.13"
    # an embedded Python may name the first python3 on PATH, which is not QGIS's
    pyenv = Platform(system="linux", executable="/root/.pyenv/shims/python3", prefix="/usr", version=(3, 11),
                     abi="cp311", exists={"/root/.pyenv/shims/python3", "/usr/bin/python3.11"}.__contains__)
    assert python_interpreter(pyenv) == "/usr/bin/python3.11"
    nowhere = Platform(system="win32", executable=r"D:\qgis.exe", prefix=r"D:\py", version=(3, 12), abi="cp312",
                       exists=lambda _path: False)
    assert python_interpreter(nowhere) is None
    with pytest.raises(InstallError, match=r"interpreter was not found .*D:\\py\\python.exe"):
        plan_install("cpu", WINDOWS_PROFILE, nowhere, None, False, {"numpy"})


def test_this_python():
    assert python_interpreter(Platform.current()) == sys.executable


@pytest.mark.parametrize("device, gpu, cuda, expected", [
    ("auto", None, False, CPU_BUILD),
    ("auto", "NVIDIA RTX A4000", False, CPU_BUILD),  # no CUDA runtime to load: the GPU build would not run
    ("auto", "NVIDIA RTX A4000", True, GPU_BUILD),
    ("cpu", "NVIDIA RTX A4000", True, CPU_BUILD),
    ("gpu", None, False, GPU_BUILD),
])
def test_build_choice(device, gpu, cuda, expected):
    assert choose_build(device, WINDOWS, gpu, cuda) == expected
    assert choose_build(device, DEBIAN, gpu, cuda) == expected


def test_macos_has_no_gpu_build():
    assert choose_build("auto", MACOS, "NVIDIA", True) == CPU_BUILD
    with pytest.raises(InstallError, match="onnxruntime-gpu has no build for macOS"):
        choose_build("gpu", MACOS, None, False)
    with pytest.raises(InstallError, match="unknown DEVICE 'cuda'"):
        choose_build("cuda", DEBIAN, None, False)


def test_windows_plan_and_manual_command():
    plan = plan_install("auto", WINDOWS_PROFILE, WINDOWS, "NVIDIA RTX A4000", True, {"numpy", "packaging"})
    folder = rf"{WINDOWS_PROFILE}\python\dependencies\euromine_qgis\onnxruntime-cp312"
    assert str(plan.folder) == folder and plan.build == GPU_BUILD
    assert plan.requirements == (f"onnxruntime-gpu=={ONNXRUNTIME_VERSION}", "flatbuffers", "protobuf>=4.25.8")
    assert plan.manual_command() == (
        "in the OSGeo4W Shell (Start menu › QGIS › OSGeo4W Shell): "
        rf'{OSGEO4W}\python.exe -m pip install --target "{folder}" --upgrade --no-deps --only-binary=:all: '
        "--no-input --disable-pip-version-check --no-warn-script-location "
        f'onnxruntime-gpu=={ONNXRUNTIME_VERSION} flatbuffers "protobuf>=4.25.8"')


def test_macos_plan_and_manual_command():
    plan = plan_install("auto", MACOS_PROFILE, MACOS, None, False, {"numpy"})
    folder = f"{MACOS_PROFILE}/python/dependencies/euromine_qgis/onnxruntime-cp312"
    assert str(plan.folder) == folder and plan.build == CPU_BUILD
    assert plan.manual_command() == (
        f"in the Terminal: {APP}/Contents/MacOS/bin/python3 -m pip install --target '{folder}' --upgrade --no-deps "
        "--only-binary=:all: --no-input --disable-pip-version-check --no-warn-script-location "
        f"onnxruntime=={ONNXRUNTIME_VERSION} flatbuffers packaging 'protobuf>=4.25.8'")


def test_numpy_is_never_on_the_command_line():
    for platform in (WINDOWS, MACOS, DEBIAN):
        plan = plan_install("auto", "/p", platform, None, False, set())
        assert "--no-deps" in plan.pip_arguments("/t")
        assert not any(canonical_name(r) == "numpy" for r in plan.requirements)


def test_pin_and_requirements_are_onnxruntimes():
    """The pin is requirements.txt's; the requirements are those of that onnxruntime (this venv's)
    other than numpy and extras."""
    assert f"onnxruntime=={ONNXRUNTIME_VERSION}" in (REPO / "requirements.txt").read_text().splitlines()
    assert importlib.metadata.version("onnxruntime") == ONNXRUNTIME_VERSION
    required = [r for r in importlib.metadata.requires("onnxruntime") if "extra ==" not in r]
    without_numpy = [re.sub(r"\s", "", r) for r in required if canonical_name(r) != "numpy"]
    assert sorted(without_numpy) == sorted(RUNTIME_REQUIREMENTS)
