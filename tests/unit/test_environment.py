"""The dependency check of this very Python (the test venv): numpy 1, rasterio and the CPU
onnxruntime, so no problem unless the machine has an NVIDIA GPU, where the CPU-only build is one."""
from __future__ import annotations

import sys

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
