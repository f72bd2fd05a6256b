"""Every EuroMine output left out of processing.run goes to a QGIS temporary output, as QGIS's own
algorithms' outputs do; outputs that are optional by nature (REPORT) stay skipped."""
from __future__ import annotations

from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsApplication, QgsProcessing, QgsProcessingUtils

YEARS = "2015-2016"


def in_temporary_folder(path: str) -> bool:
    return Path(path).exists() and Path(QgsProcessingUtils.tempFolder()) in Path(path).parents


@pytest.fixture(scope="module")
def footprints(euromine_provider, sites) -> list[str]:
    """Footprints of the first generated site, written with OUTPUT_FOLDER left out."""
    images = sorted(str(p) for p in (sites[0] / "image").glob("Year*.tif"))
    result = processing.run("euromine:mapfootprints", {"IMAGES": images, "YEARS": YEARS, "MODEL": "spectral_baseline"})
    assert in_temporary_folder(result["OUTPUT_FOLDER"])
    assert all(Path(result["OUTPUT_FOLDER"]) in Path(p).parents for p in result["FOOTPRINTS"])
    return result["FOOTPRINTS"]


def test_every_output_that_is_not_skippable_by_nature_defaults_to_a_temporary_output(euromine_provider):
    # REPORT and FOOTPRINT_POLYGONS are written only when asked for; AREA_TABLE defaults to a file in OUTPUT_FOLDER
    skippable = {("evaluate", "REPORT"), ("changelayers", "AREA_TABLE"), ("changelayers", "FOOTPRINT_POLYGONS"),
                 ("mapsites", "FOOTPRINT_POLYGONS")}
    for alg in euromine_provider.algorithms():
        for parameter in alg.destinationParameterDefinitions():
            if (alg.name(), parameter.name()) not in skippable:
                assert parameter.defaultValue() == QgsProcessing.TEMPORARY_OUTPUT, (alg.id(), parameter.name())
    report = QgsApplication.processingRegistry().algorithmById("euromine:evaluate").parameterDefinition("REPORT")
    assert not report.createByDefault()


def test_changelayers_without_output_folder(footprints):
    result = processing.run("euromine:changelayers", {"FOOTPRINTS": footprints})
    assert in_temporary_folder(result["OUTPUT_FOLDER"]) and in_temporary_folder(result["AREA_TABLE"])
    assert in_temporary_folder(result["CHANGE"]["2015-2016"])


def test_evaluate_without_table(footprints, sites):
    labels = sorted(str(p) for p in (sites[0] / "label").glob("Year*.tif"))
    result = processing.run("euromine:evaluate", {"PREDICTIONS": footprints, "REFERENCES": labels, "YEARS": YEARS})
    assert in_temporary_folder(result["TABLE"]) and Path(result["TABLE"]).suffix == ".csv"
    assert result["REPORT"] is None


def test_detectchange_without_change(footprints):
    result = processing.run("euromine:detectchange", {"METHOD": "footprints", "BEFORE": footprints[0],
                                                      "AFTER": footprints[1]})
    assert in_temporary_folder(result["CHANGE"]) and Path(result["CHANGE"]).suffix == ".tif"


def test_mapsites_without_output_folder(euromine_provider, sites):
    result = processing.run("euromine:mapsites", {"SITES_FOLDER": str(sites[0].parent), "SITES": sites[0].name,
                                                  "YEARS": YEARS, "MODEL": "spectral_baseline"})
    assert in_temporary_folder(result["OUTPUT_FOLDER"]) and in_temporary_folder(result["SUMMARY_TABLE"])
