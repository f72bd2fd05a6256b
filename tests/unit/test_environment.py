"""The dependency check of this very Python (the test venv: numpy 1, rasterio and the CPU
onnxruntime, so no problem unless the machine has an NVIDIA GPU, where the CPU-only build is one),
and its fixes on each platform, described by its facts."""
from __future__ import annotations

import sys

import pytest

from euromine_qgis import environment
from euromine_qgis.dependencies.platforms import Platform
from euromine_qgis.environment import (
    GPU,
    INSTALLER,
    NUMPY,
    ONNXRUNTIME_GPU,
    check_environment,
    nvidia_gpu_name,
    pip_install,
    python_command,
)
from tests.e2e.conftest import REPO

HERE = Platform.current()
WINDOWS = Platform(system="win32", executable=r"C:\OSGeo4W\bin\qgis-bin.exe", prefix=r"C:\OSGeo4W\apps\Python312",
                   version=(3, 12), abi="cp312", exists={r"C:\OSGeo4W\apps\Python312\python.exe"}.__contains__)
MACOS = Platform(system="darwin", executable="/Applications/QGIS.app/Contents/MacOS/QGIS",
                 prefix="/Applications/QGIS.app/Contents/Frameworks", version=(3, 12), abi="cp312",
                 exists={"/Applications/QGIS.app/Contents/MacOS/bin/python3"}.__contains__)
DEBIAN = Platform(system="linux", executable="/usr/bin/qgis", prefix="/usr", version=(3, 11), abi="cp311",
                  externally_managed=True, exists={"/usr/bin/python3.11"}.__contains__)


@pytest.fixture
def fresh_check():
    """check_environment, uncached before and after the test."""
    check_environment.cache_clear()
    yield check_environment
    check_environment.cache_clear()


def test_numpy_pin_is_the_dev_environments_only():
    """numpy<2 is advice for a numpy-1 GDAL only: no file a user installs from or reads (the docs
    site's pages included) names it."""
    pages = [p.relative_to(REPO) for p in sorted((REPO / "docs").rglob("*.md"))]
    for name in ("requirements.txt", "metadata.txt", "README.md", "CHANGELOG.md", "CONTRIBUTING.md", *pages):
        assert NUMPY not in (REPO / name).read_text(encoding="utf-8"), name
    assert ONNXRUNTIME_GPU == environment.ONNXRUNTIME.replace("onnxruntime", "onnxruntime-gpu")


def test_commands_name_this_interpreter():
    assert python_command(HERE) == sys.executable
    assert pip_install(NUMPY, platform=HERE) == f"{sys.executable} -m pip install 'numpy<2'"  # a venv: no --user


def test_this_environment():
    problems = check_environment()
    gpu = nvidia_gpu_name()
    if gpu is None:
        assert problems == ()
    else:  # the venv carries the CPU build of onnxruntime, from pip rather than the installer
        assert [p.affects for p in problems] == [GPU]
        assert gpu in problems[0].summary and ONNXRUNTIME_GPU in problems[0].fix


def test_missing_pyproj_is_reported_with_its_debian_package(monkeypatch, fresh_check):
    monkeypatch.setitem(sys.modules, "pyproj", None)  # import fails as when the package is absent
    (problem,) = fresh_check()
    assert "pyproj cannot be imported" in problem.summary
    assert problem.fix == "sudo apt install python3-pyproj"


@pytest.mark.parametrize("platform", [WINDOWS, MACOS, DEBIAN], ids=["win32", "darwin", "linux"])
def test_missing_onnxruntime_is_fixed_by_the_installer(monkeypatch, fresh_check, platform):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(environment, "nvidia_gpu_name", lambda: None)
    (problem,) = fresh_check(platform)
    assert problem.summary.startswith("onnxruntime is not installed in QGIS's Python")
    assert problem.installable and problem.fix == INSTALLER
    assert "euromine:installdependencies" in problem.fix and "numpy" not in problem.message()


@pytest.mark.parametrize("platform, expected", [
    (WINDOWS, "in the OSGeo4W Shell (Start menu › QGIS › OSGeo4W Shell, run as administrator): "
              r'C:\OSGeo4W\apps\Python312\python.exe -m pip install "numpy<2"'),
    (MACOS, "in the Terminal: /Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install --user 'numpy<2'"),
    (DEBIAN, "/usr/bin/python3.11 -m pip install --user --break-system-packages 'numpy<2'"),
], ids=["win32", "darwin", "linux"])
def test_numpy_2_under_a_numpy_1_gdal_per_platform(monkeypatch, fresh_check, platform, expected):
    """The one place numpy<2 belongs: numpy 2 in a Python whose GDAL was built for numpy 1. QGIS's own
    Python: the OSGeo4W Shell's on Windows (cmd.exe quotes), the one inside QGIS.app on macOS, the
    system's on Debian (user site, externally managed)."""
    monkeypatch.setattr(sys.modules["numpy"], "__version__", "2.2.6")
    osgeo = pytest.importorskip("osgeo")
    monkeypatch.delattr(osgeo, "gdal_array", raising=False)  # else `from osgeo import gdal_array` finds it there
    monkeypatch.setitem(sys.modules, "osgeo.gdal_array", None)  # the import fails as a numpy-1 build's does
    (problem,) = fresh_check(platform)
    assert "built for numpy 1.x" in problem.summary
    assert problem.fix == expected


def test_numpy_2_with_a_numpy_2_gdal_says_nothing_about_numpy(monkeypatch, fresh_check):
    """QGIS 3.40 and later: numpy 2 and a GDAL built for it (osgeo.gdal_array loads)."""
    monkeypatch.setattr(sys.modules["numpy"], "__version__", "2.4.1")
    assert "numpy" not in " ".join(p.message() for p in fresh_check(DEBIAN) if p.affects != GPU)


@pytest.mark.parametrize("platform, expected", [
    (WINDOWS, "in the OSGeo4W Shell (Start menu › QGIS › OSGeo4W Shell, run as administrator): "
              r"C:\OSGeo4W\apps\Python312\python.exe -m pip install pyproj numpy==1.24.2"),
    (MACOS, "in the Terminal: /Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install --user pyproj "
            "numpy==1.24.2"),
    (DEBIAN, "sudo apt install python3-pyproj"),
], ids=["win32", "darwin", "linux"])
def test_missing_pyproj_fix_per_platform_keeps_qgis_numpy(monkeypatch, fresh_check, platform, expected):
    monkeypatch.setitem(sys.modules, "pyproj", None)
    monkeypatch.setattr(sys.modules["numpy"], "__version__", "1.24.2")
    (problem,) = fresh_check(platform)
    assert problem.fix == expected
