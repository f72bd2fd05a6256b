"""THEN_MAP: the command maps the new site with the bundled unet_footprint in the same run (mapsites
over an output folder: test_composites_processing)."""
from __future__ import annotations

import json

import pytest
import rasterio

from tests.archive.archive_runs import SITE, composites

pytestmark = pytest.mark.slow  # the command in a process of its own, reading over HTTP
MODEL = "unet_footprint"


def same_grid(a, b) -> bool:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        return (x.crs, x.transform, x.shape) == (y.crs, y.transform, y.shape)


def test_then_map_maps_the_new_site(api, tmp_path):
    served = api("earth-search-c1")
    out = tmp_path / "sites"
    done = composites(served, out, "2022-2023", "--then-map", MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    footprints = sorted((out / SITE).rglob("footprint*2023*.tif"))
    assert footprints, f"no 2023 footprint under {out / SITE}: {sorted(p.name for p in (out / SITE).rglob('*'))}"
    assert same_grid(footprints[0], out / SITE / "image" / "Year2023.tif")
    assert list(json.loads(done.stdout)["MAPS"]) == [SITE], "mapsites' results, per site"
