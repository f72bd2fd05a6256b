"""euromine:mapfootprints through qgis_process, on a generated site, with the installed plugin."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import rasterio

from tests.e2e.conftest import QGIS_PROCESS, qgis_env


def run_qgis_process(home, *args, timeout=600):
    return subprocess.run([QGIS_PROCESS, *args], env=qgis_env(home), capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_algorithm(installed_profile):
    out = run_qgis_process(installed_profile, "help", "euromine:mapfootprints")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Map mining footprints" in out.stdout and "IMAGES" in out.stdout


def test_run_with_json_results(installed_profile, sites, tmp_path):
    images = sorted((sites[0] / "image").glob("Year*.tif"))
    args = ["run", "euromine:mapfootprints", "--json", "--"]
    args += [f"IMAGES={p}" for p in images]
    args += ["YEARS=2015-2017", "MODEL=spectral_baseline", f"OUTPUT_FOLDER={tmp_path}"]
    out = run_qgis_process(installed_profile, *args)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    results = json.loads(out.stdout)["results"]
    assert results["YEARS"] == [2015, 2016, 2017]
    assert set(results["AREA_HA"]) == {"2015", "2016", "2017"}
    for year in ("2015", "2016", "2017"):
        footprint = tmp_path / f"footprint_{year}.tif"
        with rasterio.open(footprint) as out_ds, rasterio.open(sites[0] / "image" / f"Year{year}.tif") as src:
            assert (out_ds.transform, out_ds.crs, out_ds.shape) == (src.transform, src.crs, src.shape)
            assert set(np.unique(out_ds.read(1))) <= {0, 1, 255}


def test_bad_model_file_fails_with_its_name(installed_profile, sites, tmp_path):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\x00" * 64)
    images = sorted((sites[0] / "image").glob("Year*.tif"))[:1]
    out = run_qgis_process(installed_profile, "run", "euromine:mapfootprints", "--",
                           f"IMAGES={images[0]}", f"MODEL_FILE={fake}", f"OUTPUT_FOLDER={tmp_path / 'o'}")
    assert out.returncode != 0
    assert "fake.onnx: not a usable ONNX model" in out.stdout + out.stderr
