"""evaluate_files: prediction and label files in, the metrics table and report out, in one call,
with the same figures as the steps it joins."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from euromine_qgis.core.errors import OutputError, YearsError
from euromine_qgis.core.pairs import parse_pairs
from euromine_qgis.core.scoring.evaluate_files import evaluate_files
from euromine_qgis.core.scoring.evaluation import evaluate_rasters, match_inputs
from tests.rasters import write_mask

YEARS = (2016, 2017, 2018)


@pytest.fixture
def files(tmp_path) -> tuple[list[Path], list[Path]]:
    """Predictions (0/1, nodata 255) and references (0/255) of three years on one grid."""
    rng = np.random.default_rng(5)
    predictions, references = [], []
    for year in YEARS:
        truth = rng.random((40, 50)) < 0.3
        guess = np.where(rng.random(truth.shape) < 0.15, ~truth, truth)
        predictions.append(write_mask(tmp_path / f"footprint_{year}.tif", guess.astype(np.uint8), 255))
        references.append(write_mask(tmp_path / f"Year{year}.tif", truth.astype(np.uint8) * 255, None))
    return predictions, references


def test_table_report_and_figures_equal_the_steps(files, tmp_path):
    predictions, references = files
    table, report = tmp_path / "out" / "metrics.csv", tmp_path / "out" / "report.html"
    table.parent.mkdir()
    summary = evaluate_files(predictions, references, table, report, years=[2017, 2018], pairs="all", lam=0.3)
    pred, ref = match_inputs(predictions, references, [2017, 2018])
    expected = evaluate_rasters(pred, ref, parse_pairs("all", list(pred))).summary(0.3)
    assert summary == expected and summary["years"] == [2017, 2018]
    assert summary["ca_tiou"] == pytest.approx(0.7 * summary["tiou"] + 0.3 * summary["ciou"])
    with open(table, newline="", encoding="utf-8") as f:
        rows = {(r["section"], r["name"]): r for r in csv.DictReader(f)}
    assert float(rows[("temporal", "CA-TIoU (lambda=0.3)")]["score"]) == summary["ca_tiou"]
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_without_report_or_pairs_only_the_table_is_written(files, tmp_path):
    predictions, references = files
    out = tmp_path / "out"
    out.mkdir()
    summary = evaluate_files(predictions, references, out / "m.csv", lam=0.5)
    assert summary["years"] == list(YEARS) and summary["change"] == {}
    assert sorted(p.name for p in out.iterdir()) == ["m.csv"]


def test_an_output_over_an_input_is_refused_before_anything_is_read(files, tmp_path):
    predictions, references = files
    before = references[0].read_bytes()
    with pytest.raises(OutputError,
                       match="Year2016.tif: output would overwrite an input; choose another TABLE or REPORT"):
        evaluate_files(predictions, references, tmp_path / "m.csv", references[0], lam=0.5)
    assert references[0].read_bytes() == before and not (tmp_path / "m.csv").exists()


def test_years_without_both_files_are_an_error(files, tmp_path):
    predictions, references = files
    with pytest.raises(YearsError):
        evaluate_files(predictions, references, tmp_path / "m.csv", years=[2016, 2030], lam=0.5)
    assert not (tmp_path / "m.csv").exists()
