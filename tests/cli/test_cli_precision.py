"""`euromine --precision`: the int8 sibling on request and fp16 refused on the CPU with exit code 2
and nothing written, in QGIS's environment and in the clean numpy-2 venv (auto's log line is
tested through processing.run, tests/qgis/test_precision_processing.py)."""
from __future__ import annotations

from pathlib import Path


def test_int8_runs_the_sibling(euromine, sites, tmp_path):
    image = sites[1] / "image" / "Year2020.tif"
    out = euromine.run("mapfootprints", "--images", image, "--model", "unet_footprint", "--precision", "int8",
                       "--output-folder", tmp_path / "int8", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    assert '"PRECISION": "int8"' in out.stdout
    assert "Precision: int8 (unet_footprint.int8.onnx; asked for)" in out.stderr


def test_fp16_on_the_cpu_exits_2_naming_the_provider(euromine, sites, tmp_path):
    out = euromine.run("mapfootprints", "--images", sites[1] / "image" / "Year2020.tif", "--model", "unet_footprint",
                       "--device", "cpu", "--precision", "fp16", "--output-folder", tmp_path / "out")
    assert out.returncode == 2
    assert "PRECISION=fp16 needs CUDAExecutionProvider or TensorrtExecutionProvider; this run has " \
           "CPUExecutionProvider" in out.stderr
    assert not any(Path(tmp_path).rglob("*.tif"))
