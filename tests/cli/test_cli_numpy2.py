"""The core on a modern stack: `pip install .` in a clean venv (numpy 2, rasterio's PyPI wheel with
its own GDAL, onnxruntime) gives a `euromine` that makes the same rasters as the command in QGIS's
environment (whose rasters are byte-identical to processing.run's, test_cli_processing.py): the
same pixels, CRS, transform, nodata and data type, and the same result dict, its areas, rates and
metrics within tests/tolerance.py's relative 1e-9 (the two numpy builds sum and take sines on
different SIMD paths, so their last bits differ)."""
from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import rasterio

from tests.cli.cli_runs import algorithm_parameters, rasters_under, run_commands
from tests.cli.conftest import CLI_VENV, CONSTRAINTS, LATEST, REPO
from tests.tolerance import assert_results_close


def test_the_venv_runs_numpy_2_and_rasterios_own_gdal(euromine_numpy2):
    python = euromine_numpy2.argv[0].replace("/euromine", "/python")
    code = "import json, numpy, rasterio, euromine_qgis; print(json.dumps([numpy.__version__, rasterio.__file__, " \
           "euromine_qgis.__file__]))"
    out = subprocess.run([python, "-c", code],
                         env=euromine_numpy2.env, capture_output=True, text=True, check=True,
                         cwd=euromine_numpy2.env["EUROMINE_TEST_CWD"])
    numpy_version, rasterio_file, package_file = json.loads(out.stdout)
    assert numpy_version.startswith("2."), numpy_version
    venv = f"{CLI_VENV}/"
    assert rasterio_file.startswith(venv) and package_file.startswith(venv)  # the wheel, not Debian's
    cards = euromine_numpy2.json("models")["MODELS"]
    assert cards and all(c["file"].startswith(venv) for c in cards)  # the models travelled in the wheel


def test_the_venv_holds_the_pinned_versions(euromine_numpy2):
    python = euromine_numpy2.argv[0].replace("/euromine", "/python")
    freeze = subprocess.run([python, "-m", "pip", "--disable-pip-version-check", "list", "--format=freeze"],
                            env=euromine_numpy2.env, capture_output=True, text=True, check=True).stdout
    installed = dict(line.split("==") for line in freeze.split() if "==" in line)
    print("numpy-2 venv:", ", ".join(f"{n} {installed[n]}" for n in ("numpy", "onnxruntime", "rasterio", "pyproj")))
    if LATEST:
        pytest.skip("make test-latest: the newest releases, printed above, not the pins")
    pins = dict(line.split("==") for line in CONSTRAINTS.read_text().split("\n") if "==" in line)
    assert {n: v for n, v in installed.items() if n in pins} == {n: pins[n] for n in installed if n in pins}
    assert {"numpy", "onnxruntime", "rasterio", "pyproj", "matplotlib"} <= installed.keys() & pins.keys()


def test_the_venv_runs_the_plugins_onnxruntime():
    plugin = re.search(r"^onnxruntime==(\S+)", (REPO / "requirements.txt").read_text(), re.MULTILINE).group(1)
    assert f"onnxruntime=={plugin}\n" in CONSTRAINTS.read_text()


@pytest.fixture(scope="module")
def both_environments(euromine_qgis_env, euromine_numpy2, sites, footprints_of_site, tmp_path_factory):
    """(results in QGIS's environment, results in the numpy-2 venv, their root folder)."""
    root = tmp_path_factory.mktemp("numpy2")
    runs = {env.name: run_commands(env, algorithm_parameters(sites, footprints_of_site, root / env.name))
            for env in (euromine_qgis_env, euromine_numpy2)}
    return runs[euromine_qgis_env.name], runs[euromine_numpy2.name], root


@pytest.mark.parametrize("name", ["mapfootprints", "changelayers", "detectchange", "evaluate", "mapsites"])
def test_same_rasters_and_results_on_numpy_2(both_environments, name):
    in_qgis, in_numpy2, root = both_environments
    rasters = rasters_under(root / "qgis-env" / name)
    assert rasters.keys() == rasters_under(root / "numpy2-venv" / name).keys()
    for relative, path in rasters.items():
        with rasterio.open(path) as a, rasterio.open(root / "numpy2-venv" / name / relative) as b:
            assert (a.crs, a.transform, a.nodatavals, a.dtypes, a.shape) == \
                   (b.crs, b.transform, b.nodatavals, b.dtypes, b.shape), relative
            assert np.array_equal(a.read(), b.read()), relative
    result = json.loads(json.dumps(in_qgis[name]).replace(str(root / "qgis-env"), str(root / "numpy2-venv")))
    assert_results_close(result, in_numpy2[name])
