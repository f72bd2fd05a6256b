"""The dependency check of this very Python (the test venv): numpy 1, rasterio and the CPU
onnxruntime, so no problem unless the machine has an NVIDIA GPU, where the CPU-only build is one."""
from __future__ import annotations

import sys

import pytest

from euromine_qgis import environment
from euromine_qgis.environment import (
    GPU,
    NUMPY,
    ONNXRUNTIME,
    ONNXRUNTIME_GPU,
    check_environment,
    nvidia_gpu_name,
    pip_install,
    python_command,
)
from tests.e2e.conftest import REPO


def test_pins_are_those_of_requirements_txt():
    requirements = (REPO / "requirements.txt").read_text().splitlines()
    assert NUMPY in requirements and ONNXRUNTIME in requirements
    assert ONNXRUNTIME_GPU == ONNXRUNTIME.replace("onnxruntime", "onnxruntime-gpu")


def test_commands_name_this_interpreter():
    assert python_command() == f"{sys.exec_prefix}/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    assert pip_install(NUMPY) == f"{python_command()} -m pip install 'numpy<2'"  # a venv: no --user


def test_this_environment():
    problems = check_environment()
    gpu = nvidia_gpu_name()
    if gpu is None:
        assert problems == ()
    else:  # the venv carries the CPU build of onnxruntime
        assert [p.affects for p in problems] == [GPU]
        assert gpu in problems[0].summary and ONNXRUNTIME_GPU in problems[0].fix


def test_missing_pyproj_is_reported_with_its_debian_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyproj", None)  # import fails as when the package is absent
    check_environment.cache_clear()
    try:
        (problem,) = check_environment()
    finally:
        check_environment.cache_clear()
    assert "pyproj cannot be imported" in problem.summary
    assert problem.fix == "sudo apt install python3-pyproj"


VENV_PYTHON = f"{sys.exec_prefix}/bin/python{sys.version_info.major}.{sys.version_info.minor}"
# what the fix for missing onnxruntime says on each platform (from this venv: no --user)
ONNXRUNTIME_FIX = {
    "win32": "in the OSGeo4W Shell (Start menu › QGIS › OSGeo4W Shell, run as administrator): "
             "python3 -m pip install onnxruntime==1.31.1",
    "darwin": f"in the Terminal: {VENV_PYTHON} -m pip install onnxruntime==1.31.1",
    "linux": f"{VENV_PYTHON} -m pip install onnxruntime==1.31.1",
}


@pytest.mark.parametrize("platform", ONNXRUNTIME_FIX)
def test_missing_onnxruntime_fix_names_the_platforms_shell(monkeypatch, platform):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(environment, "nvidia_gpu_name", lambda: None)
    check_environment.cache_clear()
    try:
        (problem,) = check_environment(platform)
    finally:
        check_environment.cache_clear()
    assert problem.summary.startswith("onnxruntime is not installed in QGIS's Python")
    assert problem.fix == ONNXRUNTIME_FIX[platform]


@pytest.mark.parametrize("platform, expected", [
    ("win32", 'python3 -m pip install "numpy<2"'),
    ("darwin", "/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install --user 'numpy<2'"),
    ("linux", f"python{sys.version_info.major}.{sys.version_info.minor} -m pip install --user "
              "--break-system-packages 'numpy<2'"),
])
def test_commands_outside_a_venv_per_platform(monkeypatch, tmp_path, platform, expected):
    """QGIS's own Python: the OSGeo4W Shell's python3 on Windows (cmd.exe quotes), the one inside
    QGIS.app on macOS, the system's on Debian (user site, externally managed)."""
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    monkeypatch.setattr(sys, "exec_prefix", str(tmp_path))  # no bin/python3.x there
    monkeypatch.setattr(environment.sysconfig, "get_path", lambda name: str(tmp_path))
    if platform == "linux":  # Debian 12 marks its Python so
        (tmp_path / "EXTERNALLY-MANAGED").touch()
    assert pip_install(NUMPY, platform=platform) == expected


@pytest.mark.parametrize("platform", ["win32", "darwin", "linux"])
def test_missing_pyproj_fix_per_platform(monkeypatch, platform):
    monkeypatch.setitem(sys.modules, "pyproj", None)
    check_environment.cache_clear()
    try:
        (problem,) = check_environment(platform)
    finally:
        check_environment.cache_clear()
    expected = {"win32": f"{environment.WINDOWS_SHELL}: python3 -m pip install pyproj",
                "darwin": f"in the Terminal: {VENV_PYTHON} -m pip install pyproj",
                "linux": "sudo apt install python3-pyproj"}[platform]
    assert problem.fix == expected
