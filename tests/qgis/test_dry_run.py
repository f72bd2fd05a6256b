"""DRY_RUN through real QGIS Processing (processing.run): mapfootprints, detectchange and mapsites
check their inputs, log and return the pre-run check's report, and write nothing."""
from __future__ import annotations

from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsProcessingException, QgsProcessingUtils

from export.synthetic import generate_site

YEARS = (2019, 2020)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return generate_site(tmp_path_factory.mktemp("dry"), "Dry", seed=4, size=(70, 90), years=YEARS)


def images(site: Path) -> list[str]:
    return [str(site / "image" / f"Year{y}.tif") for y in YEARS]


def temporary_files() -> set[Path]:
    """Everything under QGIS's processing temporary folder (where TEMPORARY_OUTPUT goes)."""
    return set(Path(QgsProcessingUtils.tempFolder()).rglob("*"))


def test_mapfootprints_dry_run_writes_nothing(euromine_provider, site, tmp_path):
    before = temporary_files()
    out = tmp_path / "never"
    result = processing.run("euromine:mapfootprints", {"IMAGES": images(site), "MODEL": "spectral_baseline",
                                                       "DRY_RUN": True, "OUTPUT_FOLDER": str(out)})
    assert not out.exists()
    result = processing.run("euromine:mapfootprints", {"IMAGES": images(site), "MODEL": "spectral_baseline",
                                                       "DRY_RUN": True, "MIN_AREA_HA": 0.5,
                                                       "TEMPORAL_FILTER": "smooth3"})
    assert temporary_files() == before
    report = result["DRY_RUN_REPORT"]
    assert [i["year"] for i in report["images"]] == list(YEARS)
    assert all(i["tiles"] == 1 and i["nodata_share"] is not None for i in report["images"])
    assert report["memory"]["temporal_filter"] > 0 and report["memory"]["min_area"] > 0
    assert report["peak_memory_mib"] > 0 and report["seconds"] > 0
    assert result["PROVIDER"] == "CPUExecutionProvider"


def test_detectchange_dry_run_checks_both_models(euromine_provider, site, tmp_path):
    target = tmp_path / "change.tif"
    before, after = images(site)
    result = processing.run("euromine:detectchange", {
        "METHOD": "change_model", "BEFORE": before, "AFTER": after, "MODEL": "spectral_baseline",
        "CHANGE_MODEL": "fc_siam_diff_change", "DRY_RUN": True, "CHANGE": str(target)})
    assert not target.exists() and list(tmp_path.iterdir()) == []
    report = result["DRY_RUN_REPORT"]
    assert [p["model"] for p in report["profiles"]] == ["spectral_baseline", "fc_siam_diff_change"]
    assert len(report["images"]) == 2
    with pytest.raises(QgsProcessingException, match="DRY_RUN"):
        processing.run("euromine:detectchange", {"METHOD": "footprints", "BEFORE": before, "AFTER": after,
                                                 "DRY_RUN": True, "CHANGE": str(target)})


def test_mapsites_dry_run_reports_each_site(euromine_provider, site, tmp_path):
    out = tmp_path / "sites_out"
    result = processing.run("euromine:mapsites", {"SITES_FOLDER": str(site.parent), "MODEL": "spectral_baseline",
                                                  "DRY_RUN": True, "OUTPUT_FOLDER": str(out)})
    assert not out.exists()
    assert list(result["DRY_RUN_REPORT"]) == ["Dry"]
    assert result["DRY_RUN_REPORT"]["Dry"]["images"][0]["band_choice"] == "by name"
    assert not any(p.name.startswith(".") for p in site.parent.iterdir())
