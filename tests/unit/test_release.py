"""The release facts kept in core/release.py equal the team's euromine_release.json, where that
file sits beside the repository (the plugin itself never reads it)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from euromine_qgis.core import release

RELEASE_JSON = Path(__file__).resolve().parents[3] / "shared" / "euromine_release.json"


@pytest.fixture(scope="module")
def published() -> dict:
    if not RELEASE_JSON.is_file():
        pytest.skip(f"{RELEASE_JSON} is not present")
    return json.loads(RELEASE_JSON.read_text(encoding="utf-8"))


def test_bands_normalization_patch_and_years(published):
    assert tuple(published["bands"]) == release.BANDS
    assert tuple(float(v) for v in published["normalization"]["mean"]) == release.MEAN
    assert tuple(float(v) for v in published["normalization"]["std"]) == release.STD
    assert int(published["patch_size"]) == release.PATCH_SIZE
    assert tuple(int(y) for y in published["years"]) == release.YEARS


def test_split_lists_and_exclusions(published):
    # the published train list names Germany_13 twice; release.py lists it once
    assert {name: tuple(dict.fromkeys(published[name])) for name in release.SPLITS} == release.SPLITS
    assert tuple(published["excluded"]) == release.EXCLUDED
    assert release.split_sites("val") == release.SPLITS["val"]
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        release.split_sites("holdout")
