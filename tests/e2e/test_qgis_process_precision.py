"""PRECISION through `qgis_process run` with the installed plugin zip (which carries the int8
siblings): the int8 sibling on request, and fp16 refused on the CPU naming the provider."""
from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_qgis_process import run_qgis_process


def test_int8_and_fp16_through_qgis_process(installed_profile, sites, tmp_path):
    image = sites[1] / "image" / "Year2020.tif"
    out = run_qgis_process(installed_profile, "run", "euromine:mapfootprints", "--json", "--", f"IMAGES={image}",
                           "MODEL=unet_footprint", "PRECISION=int8", f"OUTPUT_FOLDER={tmp_path / 'int8'}")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert json.loads(out.stdout)["results"]["PRECISION"] == "int8"
    assert "Precision: int8 (unet_footprint.int8.onnx; asked for)" in out.stdout + out.stderr

    failed = run_qgis_process(installed_profile, "run", "euromine:mapfootprints", "--", f"IMAGES={image}",
                              "MODEL=unet_footprint", "DEVICE=cpu", "PRECISION=fp16",
                              f"OUTPUT_FOLDER={tmp_path / 'fp16'}")
    assert failed.returncode != 0
    assert "PRECISION=fp16 needs CUDAExecutionProvider" in failed.stdout + failed.stderr
    assert not any(Path(tmp_path / "fp16").rglob("*.tif"))
