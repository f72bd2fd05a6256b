"""The EuroMine algorithms in the graphical modeler (a model chaining them, saved and loaded) and in
batch mode (rows of parameters as the batch dialog builds them, run the way it runs them)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from processing.tools import dataobjects
from qgis import processing
from qgis.core import (
    QgsApplication,
    QgsProcessing,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterMultipleLayers,
)

YEARS = (2015, 2016, 2017)


def images(site: Path, years=YEARS) -> list[str]:
    return [str(site / "image" / f"Year{y}.tif") for y in years]


def labels(site: Path, years=YEARS) -> list[str]:
    return [str(site / "label" / f"Year{y}.tif") for y in years]


def child(model: QgsProcessingModelAlgorithm, alg_id: str, child_id: str, sources: dict,
          outputs: dict | None = None) -> None:
    """Add ``alg_id`` as child ``child_id``; ``sources``: parameter -> ("model", name) | ("child", id, output)
    | static value; ``outputs``: model output name -> the child's destination parameter."""
    step = QgsProcessingModelChildAlgorithm(alg_id)
    step.setChildId(child_id)
    for name, source in sources.items():
        if isinstance(source, tuple) and source[0] == "model":
            value = QgsProcessingModelChildParameterSource.fromModelParameter(source[1])
        elif isinstance(source, tuple) and source[0] == "child":
            value = QgsProcessingModelChildParameterSource.fromChildOutput(source[1], source[2])
        else:
            value = QgsProcessingModelChildParameterSource.fromStaticValue(source)
        step.addParameterSources(name, [value])
    model_outputs = {}
    for output_name, parameter in (outputs or {}).items():
        output = QgsProcessingModelOutput(output_name)
        output.setChildId(child_id)
        output.setChildOutputName(parameter)
        model_outputs[output_name] = output
    step.setModelOutputs(model_outputs)
    model.addChildAlgorithm(step)


def chain_model() -> QgsProcessingModelAlgorithm:
    """mapfootprints -> changelayers and -> evaluate (against the model's labels input)."""
    model = QgsProcessingModelAlgorithm("EuroMine chain", "EuroMine tests")
    for name in ("images", "labels"):
        model.addModelParameter(QgsProcessingParameterMultipleLayers(name, name, QgsProcessing.TypeRaster),
                                QgsProcessingModelParameter(name))
    child(model, "euromine:mapfootprints", "map",
          {"IMAGES": ("model", "images"), "MODEL": "spectral_baseline"}, {"footprints": "OUTPUT_FOLDER"})
    child(model, "euromine:changelayers", "change",
          {"FOOTPRINTS": ("child", "map", "FOOTPRINTS"), "PAIRS": "first-last"}, {"change": "OUTPUT_FOLDER"})
    child(model, "euromine:evaluate", "evaluate",
          {"PREDICTIONS": ("child", "map", "FOOTPRINTS"), "REFERENCES": ("model", "labels"), "PAIRS": "consecutive"},
          {"metrics": "TABLE"})
    return model


def test_model_chains_mapfootprints_changelayers_and_evaluate(euromine_provider, sites, tmp_path):
    saved = tmp_path / "chain.model3"
    assert chain_model().toFile(str(saved))
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(saved))  # as the modeler saves and opens it
    assert [c.algorithmId() for c in model.childAlgorithms().values()].count("euromine:evaluate") == 1
    site = sites[1]
    parameters = {"images": images(site), "labels": labels(site), "map:footprints": str(tmp_path / "fp"),
                  "change:change": str(tmp_path / "change"), "evaluate:metrics": str(tmp_path / "metrics.csv")}
    ok, problem = model.checkParameterValues(parameters, dataobjects.createContext())
    assert ok, problem
    result = processing.run(model, parameters)
    assert Path(result["evaluate:metrics"]) == tmp_path / "metrics.csv"
    footprints = sorted(str(p) for p in (tmp_path / "fp").glob("footprint_*.tif"))
    assert [Path(p).name for p in footprints] == [f"footprint_{y}.tif" for y in YEARS]
    assert (tmp_path / "change" / "change_2015_2017.tif").is_file()
    direct = processing.run("euromine:evaluate", {"PREDICTIONS": footprints, "REFERENCES": labels(site),
                                                  "PAIRS": "consecutive", "TABLE": str(tmp_path / "direct.csv")})
    with open(tmp_path / "metrics.csv", newline="", encoding="utf-8") as f:
        scores = {r["name"]: r["score"] for r in csv.DictReader(f) if r["section"] == "temporal"}
    assert float(scores["CA-TIoU (lambda=0.5)"]) == pytest.approx(direct["CA_TIOU"])


def batch_rows(site_a: Path, site_b: Path, out: Path) -> dict[str, list[dict]]:
    """Two rows per algorithm, valued as the batch panel's widgets give them: several files of one
    row as one ';'-joined text, numbers and choices as typed, outputs as paths."""
    rows: dict[str, list[dict]] = {}
    for n, site in enumerate((site_a, site_b)):
        fp = out / f"fp{n}"
        rows.setdefault("euromine:mapfootprints", []).append(
            {"IMAGES": ";".join(images(site)), "MODEL": "spectral_baseline", "YEARS": "", "OUTPUT_FOLDER": str(fp)})
        footprints = ";".join(str(fp / f"footprint_{y}.tif") for y in YEARS)
        rows.setdefault("euromine:changelayers", []).append(
            {"FOOTPRINTS": footprints, "PAIRS": "consecutive", "OUTPUT_FOLDER": str(out / f"change{n}"),
             "AREA_TABLE": str(out / f"areas{n}.csv")})
        rows.setdefault("euromine:evaluate", []).append(
            {"PREDICTIONS": footprints, "REFERENCES": ";".join(labels(site)), "LAMBDA": "0.5",
             "TABLE": str(out / f"metrics{n}.csv"), "REPORT": ""})
        rows.setdefault("euromine:detectchange", []).append(
            {"METHOD": "footprints", "BEFORE": str(fp / "footprint_2015.tif"), "AFTER": str(fp / "footprint_2017.tif"),
             "CHANGE": str(out / f"change_2015_2017_{n}.tif")})
        rows.setdefault("euromine:mapsites", []).append(
            {"SITES_FOLDER": str(site.parent), "SITES": site.name, "YEARS": "2015-2016", "MODEL": "spectral_baseline",
             "SITE_REPORTS": False, "OUTPUT_FOLDER": str(out / "sites")})
    return rows


def test_every_algorithm_runs_in_batch_mode(euromine_provider, sites, tmp_path):
    registry = QgsApplication.processingRegistry()
    for alg_id, rows in batch_rows(sites[0], sites[1], tmp_path).items():
        alg = registry.algorithmById(alg_id)
        for row in rows:
            feedback = QgsProcessingFeedback()
            # as BatchAlgorithmDialog.runAlgorithm: preprocessed values, a new context per row
            parameters = alg.preprocessParameters(row)
            results, ok = alg.run(parameters, dataobjects.createContext(feedback), feedback)
            assert ok, f"{alg_id}: {feedback.textLog()[-1500:]}"
        if alg_id == "euromine:mapfootprints":
            assert results["YEARS"] == list(YEARS)
    for n in (0, 1):
        assert (tmp_path / f"metrics{n}.csv").is_file() and (tmp_path / f"change_2015_2017_{n}.tif").is_file()
    assert sorted(p.name for p in (tmp_path / "sites").iterdir() if p.is_dir()) == ["Synthetic_1", "Synthetic_2"]
