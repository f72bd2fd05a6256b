"""Plugin load with a dependency missing or mismatched, in a real QGIS (qgis_process with the
installed plugin): a readable message with the exact fix on stderr, no traceback, and the
provider loaded with what still works."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.conftest import QGIS_PROCESS, REPO, qgis_env
from tests.rasters import write_mask

NUMPY2 = REPO / ".venv" / "numpy2"  # numpy 2 installed apart by `make env` on Debian 12, for one test only
SYSTEM_PYTHON = Path(sys.base_prefix) / "bin" / "python3"  # the Python QGIS runs on, without this venv


def qgis_process(home, python_path: str, *args: str) -> subprocess.CompletedProcess:
    env = {**qgis_env(home), "PYTHONPATH": python_path}
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=300)


def assert_fix_runs_qgis_python(stderr: str, pip_arguments: str) -> None:
    """stderr holds ``Fix: PYTHON -m pip install PIP_ARGUMENTS`` and PYTHON is QGIS's own Python: the
    system's interpreter (no venv) of this Python version, which imports QGIS's packages."""
    fix = re.search(rf"Fix: (\S+) -m pip install {re.escape(pip_arguments)}$", stderr, re.MULTILINE)
    assert fix and Path(fix[1]).is_file(), stderr[-2000:]
    probe = "import sys, qgis.core; print(sys.prefix == sys.base_prefix, *sys.version_info[:2])"
    named = subprocess.run([fix[1], "-c", probe], capture_output=True, text=True, timeout=60)
    assert named.returncode == 0, f"{fix[1]}: {named.stderr[-1000:]}"
    assert named.stdout.split() == ["True", *map(str, sys.version_info[:2])]


def test_without_onnxruntime_the_model_free_algorithms_still_work(installed_profile, sites, tmp_path):
    has_onnxruntime = subprocess.run([SYSTEM_PYTHON, "-c", "import onnxruntime"], capture_output=True)
    if has_onnxruntime.returncode == 0:
        pytest.skip("the system Python has onnxruntime installed, so it cannot be missing here")
    listing = qgis_process(installed_profile, "", "list")
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "EuroMine plugin: onnxruntime is not installed in QGIS's Python" in listing.stderr
    assert "Fix: click Install on this message in QGIS, or run the Processing algorithm “Install dependencies” " \
           "(euromine:installdependencies; qgis_process run euromine:installdependencies)" in listing.stderr
    assert "Traceback" not in listing.stderr
    algorithms = [line.split()[0] for line in listing.stdout.splitlines() if line.strip().startswith("euromine:")]
    assert algorithms == ["euromine:changelayers", "euromine:composites", "euromine:detectchange", "euromine:evaluate",
                          "euromine:installdependencies"]
    footprints = [write_mask(tmp_path / f"footprint_{y}.tif", np.eye(8, k=k, dtype=np.uint8), 255)
                  for y, k in ((2016, 0), (2017, 1))]
    change = qgis_process(installed_profile, "", "run", "euromine:detectchange", "--json", "--", "METHOD=footprints",
                          f"BEFORE={footprints[0]}", f"AFTER={footprints[1]}", f"CHANGE={tmp_path / 'change.tif'}")
    assert change.returncode == 0, change.stderr[-2000:]
    assert json.loads(change.stdout)["results"]["GAIN_HA"] > 0
    mapped = qgis_process(installed_profile, "", "run", "euromine:detectchange", "--", "METHOD=post_classification",
                          f"BEFORE={footprints[0]}", f"AFTER={footprints[1]}", f"CHANGE={tmp_path / 'mapped.tif'}")
    assert mapped.returncode != 0 and "Traceback" not in mapped.stdout + mapped.stderr
    assert "Model cannot run here: onnxruntime is not installed in QGIS's Python" in mapped.stdout + mapped.stderr
    labels = [f"REFERENCES={p}" for p in sorted((sites[1] / "label").glob("Year201[5-7].tif"))]
    run = qgis_process(installed_profile, "", "run", "euromine:evaluate", "--json", "--",
                       *labels, *(label.replace("REFERENCES", "PREDICTIONS") for label in labels),
                       f"TABLE={tmp_path / 'self.csv'}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)["results"]["TIOU"] == 1.0


def test_the_numpy_qgis_ships_is_not_mentioned(installed_profile):
    listing = qgis_process(installed_profile, sysconfig.get_paths()["purelib"], "list")
    assert listing.returncode == 0, listing.stderr[-2000:]
    said = [line for line in listing.stderr.splitlines() if "EuroMine plugin" in line]
    assert not [line for line in said if "numpy" in line], said
    assert "EuroMine" in listing.stdout


@pytest.mark.skipif(int(np.__version__.split(".")[0]) >= 2,
                    reason="QGIS's numpy here is 2.x and its GDAL is built for it: no numpy-1 GDAL to mismatch")
def test_numpy_2_under_a_numpy_1_gdal_is_explained(installed_profile):
    assert (NUMPY2 / "numpy").is_dir(), f"{NUMPY2} is missing: run `make env`"
    venv = sysconfig.get_paths()["purelib"]
    listing = qgis_process(installed_profile, f"{NUMPY2}:{venv}", "list")
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "EuroMine plugin: numpy 2.2.6 is installed in QGIS's Python" in listing.stderr
    assert "built for numpy 1.x" in listing.stderr
    assert_fix_runs_qgis_python(listing.stderr, "--user --break-system-packages 'numpy<2'")
    assert "Traceback" not in listing.stderr and "EuroMine" in listing.stdout  # the provider is there
