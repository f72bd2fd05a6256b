"""euromine:mapsites through real QGIS Processing: generated EuroMineNet sites (one smaller than a
patch), resuming after a cancellation, and site outlines cut from mosaics."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QMetaType
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from euromine_qgis.core.io.coordinates import apply_affine
from euromine_qgis.qgis_compat import field

ALG = "euromine:mapsites"
YEARS = "2015-2017"


def digests(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


class CancelAtSite(QgsProcessingFeedback):
    """Cancels the run when the log announces the given site, as the Cancel button would."""

    def __init__(self, announcement: str) -> None:
        super().__init__()
        self.announcement = announcement
        self.lines: list[str] = []

    def pushInfo(self, info: str) -> None:  # noqa: N802 (QGIS API)
        self.lines.append(info)
        if info.startswith(self.announcement):
            self.cancel()
        super().pushInfo(info)


def test_algorithm_is_registered_with_help(euromine_provider):
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert alg is not None and alg.group() == "Site workflows"
    names = [p.name() for p in alg.parameterDefinitions()]
    for expected in ("SITES_FOLDER", "SITES", "SITES_LAYER", "NAME_FIELD", "MOSAICS", "YEARS", "MODEL",
                     "PAIRS", "LAMBDA", "OUTPUT_FOLDER"):
        assert expected in names
    assert {o.name() for o in alg.outputDefinitions()} >= {"SUMMARY_TABLE", "SUMMARY_REPORT", "OUTPUT_FOLDER"}
    help_text = alg.shortHelpString()
    for name in names:
        assert f"<b>{name}</b>" in help_text or name in ("MODEL_FILE", "DEVICE", "BANDS", "MEAN", "STD",
                                                          "TILE_OVERLAP", "BATCH_SIZE"), name
    assert "processing.run('euromine:mapsites'" in help_text and "trained on synthetic sites" not in help_text[:50]


@pytest.mark.slow
def test_every_site_mapped_changed_and_scored(euromine_provider, sites, tmp_path):
    before = digests(sites[0].parent)
    result = processing.run(ALG, {"SITES_FOLDER": str(sites[0].parent), "YEARS": YEARS, "MODEL": "spectral_baseline",
                                  "OUTPUT_FOLDER": str(tmp_path)})
    assert digests(sites[0].parent) == before  # inputs are only read
    names = ["Synthetic_1", "Synthetic_2", "Synthetic_3"]
    assert result["SITE_NAMES"] == result["MAPPED"] == names and result["REUSED"] == []
    assert result["PROVIDER"] == "CPUExecutionProvider" and result["MODEL_NAME"] == "spectral_baseline"
    with open(result["SUMMARY_TABLE"], newline="", encoding="utf-8") as f:
        rows = {r["site"] if r["row"] == "site" else r["row"]: r for r in csv.DictReader(f)}
    for site in sites:  # the first is smaller than a 160-px patch
        entry = result["SITE_RESULTS"][site.name]
        for footprint, year in zip(entry["footprints"], (2015, 2016, 2017), strict=True):
            with rasterio.open(footprint) as out, rasterio.open(site / "image" / f"Year{year}.tif") as src:
                assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)
        # the same figures as the single-site algorithms give on the same files
        evaluation = processing.run("euromine:evaluate", {
            "PREDICTIONS": entry["footprints"],
            "REFERENCES": sorted(str(p) for p in (site / "label").glob("Year*.tif")),
            "PAIRS": "consecutive", "TABLE": str(tmp_path / f"{site.name}.csv")})
        assert entry["ca_tiou"] == pytest.approx(evaluation["CA_TIOU"])
        assert entry["tiou"] == pytest.approx(evaluation["TIOU"])
        change = processing.run("euromine:changelayers", {"FOOTPRINTS": entry["footprints"], "PAIRS": "first-last",
                                                          "OUTPUT_FOLDER": str(tmp_path / f"{site.name}_change")})
        assert entry["gain_ha"] == pytest.approx(change["GAIN_HA"]["2015-2017"])
        assert entry["loss_ha"] == pytest.approx(change["LOSS_HA"]["2015-2017"])
        row = rows[site.name]
        assert float(row["area_last_ha"]) == pytest.approx(change["AREA_HA"]["2017"], abs=1e-5)
        assert float(row["ca_tiou"]) == pytest.approx(entry["ca_tiou"], abs=1e-6)
        assert Path(entry["report"]).is_file() and set(entry["change"]) == {"2015-2016", "2016-2017", "2015-2017"}
    assert rows["micro"]["sites"] == "3"
    assert float(rows["micro"]["ca_tiou"]) == pytest.approx(result["MICRO"]["ca_tiou"])
    assert result["MACRO"]["ca_tiou"]["sites"] == 3
    page = Path(result["SUMMARY_REPORT"]).read_text(encoding="utf-8")
    assert all(f'href="{n}/report.html"' in page for n in names)


def test_cancelled_run_resumes_without_redoing_finished_sites(euromine_provider, sites, tmp_path):
    parameters = {"SITES_FOLDER": str(sites[0].parent), "YEARS": "2015-2016", "MODEL": "spectral_baseline",
                  "SITE_REPORTS": False, "OUTPUT_FOLDER": str(tmp_path)}
    feedback = CancelAtSite("Site 2/3")
    with pytest.raises(QgsProcessingException):
        processing.run(ALG, parameters, feedback=feedback)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Synthetic_1"]  # no half-written site, no summary
    finished = digests(tmp_path / "Synthetic_1")

    feedback = QgsProcessingFeedback()
    result = processing.run(ALG, parameters, feedback=feedback)
    assert result["REUSED"] == ["Synthetic_1"] and result["MAPPED"] == ["Synthetic_2", "Synthetic_3"]
    assert digests(tmp_path / "Synthetic_1") == finished
    assert "Site 1/3 Synthetic_1: complete and verified, skipped" in feedback.textLog()
    assert "Execution provider: CPUExecutionProvider" in feedback.textLog()

    footprint = Path(result["SITE_RESULTS"]["Synthetic_3"]["footprints"][0])
    footprint.write_bytes(footprint.read_bytes()[:100])  # damaged after the run
    result = processing.run(ALG, {**parameters, "SITES": "Synthetic_3, Synthetic_1"})
    assert result["SITE_NAMES"] == ["Synthetic_3", "Synthetic_1"]
    assert result["MAPPED"] == ["Synthetic_3"] and result["REUSED"] == ["Synthetic_1"]
    with rasterio.open(footprint) as src:
        assert src.read(1).shape == src.shape


def outlines_layer(mosaic: Path) -> QgsVectorLayer:
    """Two site outlines in Web Mercator over the mosaic: one inside, one over its right edge."""
    with rasterio.open(mosaic) as src:
        t, width = src.transform, src.width
    layer = QgsVectorLayer("Polygon?crs=EPSG:3857", "outlines", "memory")
    layer.dataProvider().addAttributes([field("site", QMetaType.Type.QString)])
    layer.updateFields()
    to_mercator = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                         QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance())
    for name, (c0, r0, c1, r1) in (("Pit north", (10, 12, 70, 52)), ("Edge/east", (width - 30, 40, width + 25, 90))):
        (x0, y0), (x1, y1) = apply_affine(t, c0, r0), apply_affine(t, c1, r1)
        geometry = QgsGeometry.fromRect(QgsRectangle(x0, y1, x1, y0))
        geometry.transform(to_mercator)
        feature = QgsFeature(layer.fields())
        feature.setGeometry(geometry)
        feature["site"] = name
        layer.dataProvider().addFeatures([feature])
    return layer


def test_outlines_cut_from_mosaics_are_mapped_as_sites(euromine_provider, sites, tmp_path):
    mosaics = [str(sites[2] / "image" / f"Year{y}.tif") for y in (2015, 2016)]
    whole = processing.run("euromine:mapfootprints", {"IMAGES": mosaics, "MODEL": "spectral_baseline",
                                                      "OUTPUT_FOLDER": str(tmp_path / "whole")})
    layer = outlines_layer(Path(mosaics[0]))
    result = processing.run(ALG, {"SITES_LAYER": layer, "NAME_FIELD": "site", "MOSAICS": mosaics,
                                  "MODEL": "spectral_baseline", "OUTPUT_FOLDER": str(tmp_path / "sites")})
    assert result["SITE_NAMES"] == ["Edge_east", "Pit_north"]  # names made safe for folders, sorted
    with rasterio.open(whole["FOOTPRINTS"][1]) as src:
        full, t, width = src.read(1), src.transform, src.width
    for name, (c0, r0, c1, r1) in (("Pit_north", (10, 12, 70, 52)), ("Edge_east", (width - 30, 40, width, 90))):
        entry = result["SITE_RESULTS"][name]
        assert entry["ca_tiou"] is None and entry["evaluation_table"] is None  # no labels
        clip = Path(entry["folder"]) / "image" / "Year2016.tif"
        with rasterio.open(clip) as image, rasterio.open(entry["footprints"][1]) as footprint:
            assert image.transform == window_transform(Window(c0, r0, c1 - c0, r1 - r0), t)
            assert image.shape == (r1 - r0, c1 - c0)
            assert footprint.transform == image.transform
            mapped = footprint.read(1)
        # the model looks at 5 x 5 pixels: away from the clip's border the maps agree exactly
        np.testing.assert_array_equal(mapped[2:-2, 2:-2], full[r0 + 2:r1 - 2, c0 + 2:c1 - 2])
    with open(result["SUMMARY_TABLE"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["site"] for r in rows[:2]] == ["Edge_east", "Pit_north"] and rows[0]["ca_tiou"] == ""
    assert rows[2]["row"] == "micro" and rows[2]["sites"] == "0"


def test_clear_errors(euromine_provider, sites, tmp_path):
    folder = str(sites[0].parent)
    cases = [
        ({}, "give either SITES_FOLDER"),
        ({"SITES_FOLDER": folder, "SITES": "Synthetic_9"}, "no site named Synthetic_9"),
        ({"SITES_FOLDER": folder, "YEARS": "2030"}, "site Synthetic_1"),
        ({"SITES_FOLDER": str(tmp_path)}, "no site folders with image/Year"),
    ]
    for extra, message in cases:
        with pytest.raises(QgsProcessingException, match=message):
            processing.run(ALG, {"MODEL": "spectral_baseline", "OUTPUT_FOLDER": str(tmp_path / "out"), **extra})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
