"""python -m export.benchmark end to end in its tiny configuration (two architectures, one epoch,
64-pixel patches, three generated sites of three years): the leaderboard files, the HTML page
rendered by headless Chromium, a rerun that keeps every finished model, and the leaderboard's
numbers against euromine:evaluate run through QGIS Processing on the exported model's footprints."""
from __future__ import annotations

import csv
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from euromine_qgis.core.engine.bundled import SYNTHETIC_LABEL
from tests.e2e.chromium import chromium, embedded_pngs, needs_chromium

pytest.importorskip("torch")
REPO = Path(__file__).resolve().parents[2]
ARCHS = ("unet", "fc_siam_diff")
SCORES = {"oa": "oa", "precision": "precision", "recall": "recall", "f1": "f1", "iou": "iou"}


def _arguments(data: Path, out: Path) -> list[str]:
    return ["--data", str(data), "--archs", ",".join(ARCHS), "--epochs", "1", "--patch", "64", "--width", "4",
            "--samples-per-epoch", "4", "--batch-size", "2", "--threads", "1", "--seed", "3", "--out", str(out)]


def _benchmark(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    # its own process: training sets torch's threads and deterministic mode for the whole process
    command = [sys.executable, "-m", "export.benchmark", *_arguments(data, out), *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """(sites folder, output folder, the run) of the tiny benchmark with one unreadable --onnx file."""
    from export.synthetic import generate_sites

    root = tmp_path_factory.mktemp("benchmark")
    generate_sites(root / "sites", 3, seed=7, size=(96, 128), years=(2015, 2016, 2017))
    (root / "broken.onnx").write_text("not a model")
    return root / "sites", root / "out", _benchmark(root / "sites", root / "out", "--onnx", str(root / "broken.onnx"))


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "leaderboard.csv", newline="", encoding="utf-8") as f:
        return {r["model"]: r for r in csv.DictReader(f)}


def test_every_model_is_measured_and_labelled(benchmark):
    _, out, _ = benchmark
    rows = _rows(out)
    assert set(rows) == {*ARCHS, "broken", "spectral_baseline", "post_classification:spectral_baseline"}
    for name in ARCHS:
        row = rows[name]
        assert row["status"] == "ok" and row["rank"] == "1" and row["synthetic_training"] == "true"
        assert SYNTHETIC_LABEL in row["trained_on"]
        assert int(row["parameters"]) > 0 and float(row["gflops_160"]) > 0 and float(row["throughput_mpx_s"]) > 0
        assert float(row["train_seconds"]) > 0 and row["device"].endswith("(CPUExecutionProvider)")
        assert (out / "runs" / name / f"{name}.onnx").is_file()
    assert rows["fc_siam_diff"]["task"] == "change" and rows["fc_siam_diff"]["change_f1_all"] != ""
    assert rows["unet"]["task"] == "footprint" and rows["unet"]["oa"] != "" and rows["unet"]["change_f1_all"] == ""
    assert rows["broken"]["status"] == "failed" and "broken.onnx: not a usable ONNX model" in rows["broken"]["error"]
    bars = rows["spectral_baseline"], rows["post_classification:spectral_baseline"]
    assert [(r["task"], r["status"], r["rank"], r["baseline"]) for r in bars] == \
        [("footprint", "ok", "", "true"), ("change", "ok", "", "true")]
    assert float(bars[0]["iou"]) > 0 and float(bars[1]["change_f1_all"]) > 0
    markdown = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "| 1 | unet (synthetic) |" in markdown and SYNTHETIC_LABEL in markdown and "## Failed" in markdown
    assert "| ref | spectral_baseline (reference) |" in markdown
    assert "Bar: spectral_baseline's footprint IoU" in markdown
    assert "Bar: post_classification:spectral_baseline's change F1 over all pairs" in markdown


def test_rerun_keeps_finished_models(benchmark, caplog):
    from export.benchmark import main

    sites, out, _ = benchmark
    before = (out / "leaderboard.csv").read_bytes()
    caplog.set_level(logging.INFO)
    assert main(_arguments(sites, out)) == 0
    assert all(f"{name}: kept (complete and verified)" in caplog.text for name in (*ARCHS, "spectral_baseline"))
    assert "epoch 1:" not in caplog.text
    assert [line for line in (out / "leaderboard.csv").read_bytes().splitlines() if b"broken" not in line] == \
        [line for line in before.splitlines() if b"broken" not in line]


@needs_chromium
def test_html_renders_with_every_plot(benchmark, tmp_path):
    _, out, _ = benchmark
    page = out / "leaderboard.html"
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert SYNTHETIC_LABEL in dom and "unet (synthetic)" in dom and "Provenance" in dom
    images = embedded_pngs(dom)
    # IoU, F1, CA-TIoU, change F1, CA-TIoU components, change F1 by interval, accuracy vs throughput
    assert len(images) == 7
    assert all(min(image.size) > 50 for image in images)


def test_leaderboard_equals_evaluate_on_the_exported_models_footprints(benchmark, euromine_provider, tmp_path):
    from qgis import processing

    _, out, _ = benchmark
    row = _rows(out)["unet"]
    (test_site,) = (out / "sites" / "test").iterdir()
    images = sorted(str(p) for p in (test_site / "image").glob("Year*.tif"))
    mapped = processing.run("euromine:mapfootprints", {"IMAGES": images, "OUTPUT_FOLDER": str(tmp_path / "maps"),
                                                        "MODEL_FILE": str(out / "runs" / "unet" / "unet.onnx")})
    labels = sorted(str(p) for p in (test_site / "label").glob("Year*.tif"))
    result = processing.run("euromine:evaluate", {"PREDICTIONS": mapped["FOOTPRINTS"], "REFERENCES": labels,
                                                  "TABLE": str(tmp_path / "evaluation.csv")})
    for column, key in SCORES.items():
        expected = result["POOLED"][key]
        assert (row[column] == "") if expected is None else float(row[column]) == pytest.approx(expected, abs=1e-12)
    for column, value in (("tiou", result["TIOU"]), ("ciou", result["CIOU"]), ("ca_tiou", result["CA_TIOU"])):
        assert (row[column] == "") if value is None else float(row[column]) == pytest.approx(value, abs=1e-12)
    assert result["POOLED"]["tp"] + result["POOLED"]["fn"] > 0  # the test site has mining to find
