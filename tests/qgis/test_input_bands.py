"""INPUT_BANDS, SCALE and the scaling check through real QGIS Processing (processing.run) with the
bundled spectral_baseline model: 13-band L2A stacks, unnamed bands and float 0–1 reflectance."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from euromine_qgis.core.batch.manifest import MANIFEST_NAME
from export.synthetic import generate_site
from tests.band_stacks import l2a_numbers, l2a_stack, reflectance_copy

YEARS = (2016, 2020)
NUMBERS = ",".join(map(str, l2a_numbers()))
ROUNDING = 1e-3  # as in tests/unit/test_scaling.py


class WarningFeedback(QgsProcessingFeedback):
    """A Processing feedback that keeps the warnings it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def pushWarning(self, warning: str) -> None:  # noqa: N802 (QGIS API)
        self.warnings.append(warning)
        super().pushWarning(warning)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return generate_site(tmp_path_factory.mktemp("input_bands"), "Open_pit", seed=23, size=(190, 240), years=YEARS)


def _images(site: Path) -> list[Path]:
    return [site / "image" / f"Year{y}.tif" for y in YEARS]


def _map(images: list[Path], out: Path, feedback: QgsProcessingFeedback | None = None, **extra) -> dict:
    return processing.run("euromine:mapfootprints", {
        "IMAGES": [str(p) for p in images], "MODEL": "spectral_baseline", "DEVICE": "cpu",
        "OUTPUT_FOLDER": str(out), **extra}, feedback=feedback or QgsProcessingFeedback())


def _bytes(result: dict) -> list[bytes]:
    return [Path(p).read_bytes() for p in result["FOOTPRINTS"]]


@pytest.fixture(scope="module")
def reference(euromine_provider, site, tmp_path_factory) -> dict:
    return _map(_images(site), tmp_path_factory.mktemp("reference"), PROBABILITIES="float32")


def test_parameters_are_advanced_on_every_model_algorithm(euromine_provider):
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition

    for alg_id in ("euromine:mapfootprints", "euromine:detectchange", "euromine:mapsites"):
        alg = QgsApplication.processingRegistry().algorithmById(alg_id)
        for name in ("INPUT_BANDS", "SCALE"):
            definition = alg.parameterDefinition(name)
            assert definition is not None and definition.flags() & QgsProcessingParameterDefinition.FlagAdvanced
        assert alg.parameterDefinition("SCALE").defaultValue() == 1.0


def test_a_13_band_stack_by_name_and_unnamed_with_input_bands(euromine_provider, site, reference, tmp_path):
    named = [l2a_stack(p, tmp_path / f"named_{p.name}") for p in _images(site)]
    assert _bytes(_map(named, tmp_path / "named")) == _bytes(reference)
    unnamed = [l2a_stack(p, tmp_path / f"unnamed_{p.name}", names=None) for p in _images(site)]
    assert _bytes(_map(unnamed, tmp_path / "unnamed", INPUT_BANDS=NUMBERS)) == _bytes(reference)
    with pytest.raises(QgsProcessingException, match=r"unnamed_Year2016.tif: image has 13 band\(s\) but model "
                                                     r"'spectral_baseline' expects 10 .*1 \(unnamed\)"):
        _map(unnamed, tmp_path / "refused")
    assert not (tmp_path / "refused" / "footprint_2016.tif").exists()


def test_float_reflectance_with_scale_and_the_warning_without(euromine_provider, site, reference, tmp_path):
    copies = [reflectance_copy(p, tmp_path / p.name) for p in _images(site)]
    quiet = WarningFeedback()
    scaled = _map(copies, tmp_path / "scaled", quiet, SCALE=10000, PROBABILITIES="float32")
    assert quiet.warnings == [w for w in quiet.warnings if "synthetic" in w]  # only the model's training label
    for ours, theirs, p_ours, p_theirs in zip(scaled["FOOTPRINTS"], reference["FOOTPRINTS"],
                                              scaled["PROBABILITY_RASTERS"], reference["PROBABILITY_RASTERS"],
                                              strict=True):
        with rasterio.open(ours) as a, rasterio.open(theirs) as b, rasterio.open(p_theirs) as p:
            differ = a.read(1) != b.read(1)
            assert np.all(np.abs(p.read(1)[differ] - 0.5) < ROUNDING)
        with rasterio.open(p_ours) as a, rasterio.open(p_theirs) as b:
            assert np.nanmax(np.abs(a.read(1) - b.read(1))) < ROUNDING
    warned = WarningFeedback()
    _map(copies, tmp_path / "unscaled", warned)
    scaling = [w for w in warned.warnings if "SCALE=10000" in w]
    assert [Path(w.split(": ")[0]).name for w in scaling] == [p.name for p in copies]


def test_detectchange_takes_input_bands_and_scale(euromine_provider, site, tmp_path):
    before, after = _images(site)
    common = {"METHOD": "post_classification", "MODEL": "spectral_baseline", "DEVICE": "cpu"}
    reference = processing.run("euromine:detectchange", {**common, "BEFORE": str(before), "AFTER": str(after),
                                                         "CHANGE": str(tmp_path / "reference.tif")})
    stacks = [l2a_stack(p, tmp_path / f"unnamed_{p.name}", names=None) for p in (before, after)]
    result = processing.run("euromine:detectchange", {**common, "BEFORE": str(stacks[0]), "AFTER": str(stacks[1]),
                                                      "INPUT_BANDS": NUMBERS, "CHANGE": str(tmp_path / "stacked.tif")})
    assert Path(result["CHANGE"]).read_bytes() == Path(reference["CHANGE"]).read_bytes()
    warned = WarningFeedback()
    copies = [reflectance_copy(p, tmp_path / p.name) for p in (before, after)]
    processing.run("euromine:detectchange", {**common, "BEFORE": str(copies[0]), "AFTER": str(copies[1]),
                                             "CHANGE": str(tmp_path / "unscaled.tif")}, feedback=warned)
    assert sum("SCALE=10000" in w for w in warned.warnings) == 2


def test_mapsites_records_input_bands_and_scale_in_its_manifest(euromine_provider, site, tmp_path):
    sites = tmp_path / "sites"
    (sites / site.name / "image").mkdir(parents=True)
    for image in _images(site):
        reflectance_copy(l2a_stack(image, tmp_path / f"stack_{image.name}", names=None),
                         sites / site.name / "image" / image.name)
    parameters = {"SITES_FOLDER": str(sites), "MODEL": "spectral_baseline", "DEVICE": "cpu", "SITE_REPORTS": False,
                  "INPUT_BANDS": NUMBERS, "SCALE": 10000, "OUTPUT_FOLDER": str(tmp_path / "out")}
    result = processing.run("euromine:mapsites", parameters)
    assert result["MAPPED"] == [site.name]
    manifest = json.loads((tmp_path / "out" / site.name / MANIFEST_NAME).read_text(encoding="utf-8"))
    settings = manifest["made_from"]["parameters"]
    assert settings["input_bands"] == l2a_numbers() and settings["scale"] == 10000.0
    again = processing.run("euromine:mapsites", {**parameters, "SCALE": 1})
    assert again["MAPPED"] == [site.name]  # another SCALE re-maps the site
    shutil.rmtree(tmp_path / "out")
