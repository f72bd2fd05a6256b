"""euromine:evaluate through real QGIS Processing (processing.run), on mapfootprints outputs."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProject, QgsRasterLayer

from euromine_qgis.core.pairs import parse_pairs
from euromine_qgis.core.scoring.evaluation import evaluate_rasters, match_inputs

ALG = "euromine:evaluate"


@pytest.fixture(scope="module")
def footprints(euromine_provider, sites, tmp_path_factory) -> tuple[list[str], list[str]]:
    """Spectral-baseline footprints of the second generated site and its EuroMineNet labels."""
    site = sites[1]
    out = tmp_path_factory.mktemp("footprints")
    images = sorted(str(p) for p in (site / "image").glob("Year*.tif"))
    result = processing.run("euromine:mapfootprints", {"IMAGES": images, "MODEL": "spectral_baseline",
                                                       "OUTPUT_FOLDER": str(out)})
    return result["FOOTPRINTS"], sorted(str(p) for p in (site / "label").glob("Year*.tif"))


def test_algorithm_is_registered(euromine_provider):
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert alg is not None and alg.groupId() == "evaluation"
    names = [p.name() for p in alg.parameterDefinitions()]
    assert names == ["PREDICTIONS", "REFERENCES", "YEARS", "LAMBDA", "PAIRS", "TABLE", "REPORT"]
    assert alg.parameterDefinition("LAMBDA").defaultValue() == 0.5
    assert "processing.run('euromine:evaluate'" in alg.shortHelpString()


@pytest.mark.slow
def test_results_equal_the_core_and_the_table(footprints, tmp_path):
    predictions, references = footprints
    result = processing.run(ALG, {"PREDICTIONS": predictions, "REFERENCES": references, "LAMBDA": 0.3,
                                  "PAIRS": "all", "TABLE": str(tmp_path / "metrics.csv"),
                                  "REPORT": str(tmp_path / "report.html")})
    pred, ref = match_inputs(predictions, references, None)
    core = evaluate_rasters(pred, ref, parse_pairs("all", list(pred))).summary(0.3)
    assert result["YEARS"] == list(range(2015, 2025))
    assert result["PER_YEAR"] == core["per_year"] and result["POOLED"] == core["pooled"]
    assert (result["TIOU"], result["CIOU"], result["CA_TIOU"]) == (core["tiou"], core["ciou"], core["ca_tiou"])
    assert result["CA_TIOU"] == pytest.approx(0.7 * core["tiou"] + 0.3 * core["ciou"])
    assert result["TRANSITIONS"] == core["transitions"] and result["CHANGE"] == core["change"]
    assert set(result["CHANGE"]) == {"annual", "medium", "long", "all"}
    assert result["CHANGE"]["all"]["pairs"] == 45 and len(result["CHANGE_PAIRS"]) == 45
    assert result["AREA_UNIT"] == "ha"
    assert 0.0 < result["POOLED"]["iou"] < 1.0
    with open(result["TABLE"], newline="") as f:
        rows = {(r["section"], r["name"]): r for r in csv.DictReader(f)}
    for year, figures in core["per_year"].items():
        assert float(rows[("year", year)]["f1"]) == figures["f1"]
        assert int(rows[("year", year)]["tp"]) == figures["tp"]
    assert float(rows[("temporal", "CA-TIoU (lambda=0.3)")]["score"]) == core["ca_tiou"]
    assert float(rows[("change", "long")]["iou"]) == core["change"]["long"]["iou"]
    assert Path(result["REPORT"]).read_text().startswith("<!DOCTYPE html>")


def test_years_and_no_report(footprints, tmp_path):
    predictions, references = footprints
    result = processing.run(ALG, {"PREDICTIONS": predictions, "REFERENCES": references, "YEARS": "2016-2018",
                                  "TABLE": str(tmp_path / "m.csv")})
    assert result["YEARS"] == [2016, 2017, 2018] and result["CHANGE"] == {}
    assert not result["REPORT"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]


def test_errors_name_the_problem(footprints, tmp_path, sites):
    predictions, references = footprints
    with pytest.raises(QgsProcessingException, match="PAIRS 'weekly'"):
        processing.run(ALG, {"PREDICTIONS": predictions, "REFERENCES": references, "PAIRS": "weekly",
                             "TABLE": str(tmp_path / "m.csv")})
    other_site = sorted(str(p) for p in (sites[0] / "label").glob("Year*.tif"))
    with pytest.raises(QgsProcessingException,
                       match=r"Year2015.tif \(\d+ × \d+ px\) does not match the grid of .*footprint_2015.tif"):
        processing.run(ALG, {"PREDICTIONS": predictions, "REFERENCES": other_site, "TABLE": str(tmp_path / "m.csv")})
    assert not (tmp_path / "m.csv").exists()


def test_layers_by_id_and_layer_objects_give_the_same_scores(footprints, tmp_path):
    predictions, references = footprints
    by_path = processing.run(ALG, {"PREDICTIONS": predictions, "REFERENCES": references,
                                   "TABLE": str(tmp_path / "a.csv")})
    project = QgsProject()
    layers = [QgsRasterLayer(p, Path(p).stem) for p in predictions]
    project.addMapLayers(layers)
    context = QgsProcessingContext()
    context.setProject(project)
    by_layer = processing.run(ALG, {"PREDICTIONS": [layer.id() for layer in layers],
                                    "REFERENCES": [QgsRasterLayer(r, Path(r).stem) for r in references],
                                    "TABLE": str(tmp_path / "b.csv")}, context=context)
    assert by_layer["PER_YEAR"] == by_path["PER_YEAR"] and by_layer["CA_TIOU"] == by_path["CA_TIOU"]
