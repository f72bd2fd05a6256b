"""A resumed many-site run reuses a site only when every setting that changes its outputs is the
same: each one, changed alone, re-maps the site and the log names it; speed settings do not."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import onnx
import pytest

from euromine_qgis.core.batch.manifest import differences
from euromine_qgis.core.batch.site_sources import folder_site
from euromine_qgis.core.batch.sites import SiteOptions, map_sites
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.contract import NormalizationOverride
from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.progress import Reporter
from tests.plain_run import site_options

YEARS = [2015, 2016]
BASE = site_options(site_reports=False)


def _edited_model(folder: Path) -> Path:
    """The bundled model with another graph doc string: other file bytes, the same metadata."""
    proto = onnx.load(str(resolve_bundled("spectral_baseline")))
    proto.doc_string = "re-exported"
    path = folder / "spectral_baseline_copy.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="module")
def bundled() -> Path:
    return resolve_bundled("spectral_baseline")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, sites, bundled) -> Path:
    """One site mapped with the default settings, to resume from."""
    out = tmp_path_factory.mktemp("baseline")
    map_sites([folder_site(sites[1], YEARS)], Model(bundled, device="cpu", scale=1.0), out, BASE)
    return out


def _resume(baseline: Path, tmp_path: Path, sites, model: Model, options: SiteOptions) -> tuple[str, list[str]]:
    out = tmp_path / "out"
    shutil.copytree(baseline, out)
    log: list[str] = []
    result = map_sites([folder_site(sites[1], YEARS)], model, out, options, Reporter(info=log.append))
    return result.sites[0].status, log


MEAN = (1000.0,) * 10
STD = (500.0,) * 10
BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "SWIR2")

CHANGED = {  # setting -> (model override or model file, options, what the log names)
    "threshold": (None, replace(BASE, threshold=0.6), "parameters/threshold: 0.5 -> 0.6"),
    "tile size": (None, replace(BASE, settings=TileSettings(tile=128, batch_size=0)),
                  "parameters/tile_size: 160 -> 128"),
    # the spectral baseline sees 2 px around a pixel: its default overlap is 2 × 2 + 1
    "tile overlap": (None, replace(BASE, settings=TileSettings(overlap=8, batch_size=0)),
                     "parameters/tile_overlap: 5 -> 8"),
    "temporal filter": (None, replace(BASE, temporal_filter="smooth3"),
                        "parameters/temporal_filter: 'none' -> 'smooth3'"),
    "pairs": (None, replace(BASE, pairs="all"), "parameters/pairs: 'consecutive' -> 'all'"),
    "lambda": (None, replace(BASE, lam=0.7), "parameters/lambda: 0.5 -> 0.7"),
    "site reports": (None, replace(BASE, site_reports=True), "parameters/site_reports: False -> True"),
    "min area": (None, replace(BASE, min_area_ha=0.1), "parameters/min_area_ha: 0.0 -> 0.1"),
    "MEAN": (NormalizationOverride(mean=MEAN), BASE, "parameters/model_metadata/mean changed"),
    "STD": (NormalizationOverride(std=STD), BASE, "parameters/model_metadata/std changed"),
    "BANDS": (NormalizationOverride(bands=BANDS), BASE, "parameters/model_metadata/bands changed"),
    "model file": ("edited", BASE, "parameters/model_sha256: "),
}


@pytest.mark.slow
@pytest.mark.parametrize("setting", CHANGED)
def test_a_changed_setting_re_maps_the_site_and_says_which(setting, baseline, tmp_path, sites, bundled):
    override, options, named = CHANGED[setting]
    if override == "edited":
        model = Model(_edited_model(tmp_path), device="cpu", scale=1.0)
    else:
        model = Model(bundled, device="cpu", override=override, scale=1.0)
    status, log = _resume(baseline, tmp_path, sites, model, options)
    assert status == "mapped"
    mapping = [line for line in log if "mapping (changed since it was mapped: " in line]
    assert len(mapping) == 1 and named in mapping[0], log


def test_speed_settings_and_an_unchanged_override_reuse_the_site(baseline, tmp_path, sites, bundled):
    same = Model(bundled, device="cpu", scale=1.0)
    model = Model(bundled, device="cpu", override=NormalizationOverride(same.info.bands, same.info.mean, same.info.std),
                  scale=1.0)
    options = replace(BASE, settings=TileSettings(tile=160, batch_size=1, prefetch=1))
    status, log = _resume(baseline, tmp_path, sites, model, options)
    assert status == "reused", log


def test_differences_name_every_changed_key():
    recorded = {"parameters": {"threshold": 0.5, "pairs": "all"}, "inputs": {"files": {"image 2015": ["a", 1, 2]}}}
    current = {"parameters": {"threshold": 0.5, "lambda": 0.5}, "inputs": {"files": {"image 2015": ["a", 1, 3]}}}
    assert differences(recorded, current) == ["inputs/files/image 2015 changed", "parameters/lambda added",
                                              "parameters/pairs removed"]
    assert differences(recorded, recorded) == []
