"""Plugin load with a dependency missing or mismatched, in a real QGIS (qgis_process with the
installed plugin): a readable message with the exact fix on stderr, no traceback, and the
provider loaded with what still works."""
from __future__ import annotations

import json
import subprocess
import sysconfig

import numpy as np
import pytest

from tests.e2e.conftest import QGIS_PROCESS, REPO, qgis_env
from tests.rasters import write_mask

NUMPY2 = REPO / ".venv" / "numpy2"  # numpy 2 installed apart by `make env`, for this test only


def qgis_process(home, python_path: str, *args: str) -> subprocess.CompletedProcess:
    env = {**qgis_env(home), "PYTHONPATH": python_path}
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=300)


def test_without_onnxruntime_the_model_free_algorithms_still_work(installed_profile, sites, tmp_path):
    has_onnxruntime = subprocess.run(["/usr/bin/python3", "-c", "import onnxruntime"], capture_output=True)
    if has_onnxruntime.returncode == 0:
        pytest.skip("the system Python has onnxruntime installed, so it cannot be missing here")
    listing = qgis_process(installed_profile, "", "list")
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "EuroMine plugin: onnxruntime is not installed in QGIS's Python" in listing.stderr
    assert "Fix: /usr/bin/python3.11 -m pip install --user --break-system-packages onnxruntime==1.31.1" in listing.stderr
    assert "Traceback" not in listing.stderr
    algorithms = [line.split()[0] for line in listing.stdout.splitlines() if line.strip().startswith("euromine:")]
    assert algorithms == ["euromine:changelayers", "euromine:detectchange", "euromine:evaluate"]
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


def test_numpy_2_under_a_numpy_1_gdal_is_explained(installed_profile):
    assert (NUMPY2 / "numpy").is_dir(), f"{NUMPY2} is missing: run `make env`"
    venv = sysconfig.get_paths()["purelib"]
    listing = qgis_process(installed_profile, f"{NUMPY2}:{venv}", "list")
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "EuroMine plugin: numpy 2.2.6 is installed in QGIS's Python" in listing.stderr
    assert "built for numpy 1.x" in listing.stderr
    assert "Fix: /usr/bin/python3.11 -m pip install --user --break-system-packages 'numpy<2'" in listing.stderr
    assert "Traceback" not in listing.stderr and "EuroMine" in listing.stdout  # the provider is there
