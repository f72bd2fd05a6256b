"""The command against the Processing algorithms, in QGIS's environment: the same parameters give
byte-identical rasters and tables, the same result dict (the keys the command has) and, on bad
input, the same message."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsProcessingException
from rasterio.crs import CRS

from tests.cli.cli_runs import algorithm_parameters, flags, rasters_under, run_commands
from tests.rasters import random_scene, write_image

# Result keys of outputs only the algorithms make: polygons drawn by QGIS (the specs' QGIS-only parameters).
QGIS_ONLY = {"VECTOR_OUTPUT", "FOOTPRINT_POLYGONS"}


def tables_under(folder: Path) -> dict[str, Path]:
    """Every CSV table under ``folder`` by its path relative to it."""
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*.csv"))}


def _processing_parameters(parameters: dict) -> dict:
    return {k: [str(v) for v in value] if isinstance(value, list) else str(value) if isinstance(value, Path) else value
            for k, value in parameters.items()}


@pytest.fixture(scope="module")
def both_runs(euromine_provider, euromine_qgis_env, sites, footprints_of_site, tmp_path_factory):
    """(processing.run results, command results, their output folders) for every algorithm."""
    root = tmp_path_factory.mktemp("same")
    by_processing = algorithm_parameters(sites, footprints_of_site, root / "processing")
    by_command = algorithm_parameters(sites, footprints_of_site, root / "command")
    for parameters in by_processing.values():
        for value in parameters.values():
            if isinstance(value, Path) and value.suffix:
                value.parent.mkdir(parents=True, exist_ok=True)
    processed = {name: processing.run(f"euromine:{name}", _processing_parameters(p))
                 for name, p in by_processing.items()}
    return processed, run_commands(euromine_qgis_env, by_command), root


@pytest.mark.parametrize("name", ["mapfootprints", "changelayers", "detectchange", "evaluate", "mapsites"])
def test_same_files_and_results_as_processing(both_runs, name):
    processed, commanded, root = both_runs
    made_by_processing, made_by_command = root / "processing" / name, root / "command" / name
    made = {**rasters_under(made_by_processing), **tables_under(made_by_processing)}
    assert made and made.keys() == {**rasters_under(made_by_command), **tables_under(made_by_command)}.keys()
    for relative, path in made.items():
        assert path.read_bytes() == (made_by_command / relative).read_bytes(), relative
    # the same keys and values, paths compared relative to each run's folder
    text = json.dumps(processed[name], default=str)
    result = json.loads(text.replace(str(root / "processing"), str(root / "command")))
    command = commanded[name]
    assert set(command) <= set(result), set(command) - set(result)
    assert set(result) - set(command) <= QGIS_ONLY, set(result) - set(command)
    assert {k: result[k] for k in command} == command


@pytest.mark.parametrize("crs, extra", [(None, {}), (CRS.from_epsg(4326), {"MEAN": "1,x"})],
                         ids=["image without CRS", "MEAN not numbers"])
def test_bad_input_gives_the_algorithms_message(euromine_provider, euromine_qgis_env, tmp_path, crs, extra):
    image = write_image(tmp_path / "Year2020.tif", random_scene(40, 40), crs=crs)
    parameters = {"IMAGES": [str(image)], "OUTPUT_FOLDER": str(tmp_path / "out"), **extra}
    with pytest.raises(QgsProcessingException) as raised:
        processing.run("euromine:mapfootprints", parameters)
    out = euromine_qgis_env.run("mapfootprints", *flags(parameters))
    assert out.returncode == 2
    assert f"euromine mapfootprints: error: {raised.value}\n" in out.stderr


# What a pre-run check measures (memory, seconds, the timed batch): it differs from one check to the next.
MEASURED = {"memory", "seconds", "profiles", "peak_memory_mib"}


def _checked(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in MEASURED}


@pytest.mark.parametrize("name", ["mapfootprints", "detectchange", "mapsites"])
def test_euromine_check_is_dry_run(euromine_provider, euromine_qgis_env, sites, footprints_of_site, tmp_path, name):
    parameters = {**algorithm_parameters(sites, footprints_of_site, tmp_path)[name], "MIN_AREA_HA": 0.05}
    parameters.pop("PROBABILITIES", None)  # not a DRY_RUN parameter of every algorithm; MIN_AREA_HA is a flag of all
    if name == "detectchange":
        parameters = {**parameters, "METHOD": "change_model"}
        parameters.pop("MIN_AREA_HA")
    processed = json.loads(json.dumps(  # as JSON, as the command gives it (tuples as lists)
        processing.run(f"euromine:{name}", {**_processing_parameters(parameters), "DRY_RUN": True})))
    commanded = euromine_qgis_env.json("check", name, *flags(parameters))
    assert commanded.keys() == processed.keys()
    reports = (processed["DRY_RUN_REPORT"], commanded["DRY_RUN_REPORT"])
    if name == "mapsites":  # one report per site
        reports = tuple(r[parameters["SITES"]] for r in reports)
    assert _checked(reports[0]) == _checked(reports[1])
    assert [(p["model"], p["tiles"]) for p in reports[0]["profiles"]] == \
           [(p["model"], p["tiles"]) for p in reports[1]["profiles"]]
    assert {k: v for k, v in processed.items() if k != "DRY_RUN_REPORT"} == \
           {k: v for k, v in commanded.items() if k != "DRY_RUN_REPORT"}
    assert not any(tmp_path.iterdir())  # neither wrote anything


