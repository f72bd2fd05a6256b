"""The composites feed the mapping unchanged: `euromine mapsites` over the output folder with the
bundled unet_footprint, and THEN_MAP, which maps the new site in the same run."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import rasterio

from tests.archive.archive_runs import REPO, SITE, command_env, composites

pytestmark = pytest.mark.slow  # the command in a process of its own, reading over HTTP
MODEL = "unet_footprint"


def same_grid(a, b) -> bool:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        return (x.crs, x.transform, x.shape) == (y.crs, y.transform, y.shape)


def test_mapsites_runs_on_the_output(api, tmp_path):
    served = api("earth-search-c1")
    out = tmp_path / "sites"
    assert composites(served, out, "2021-2022").returncode == 0
    maps = tmp_path / "maps"
    done = subprocess.run([sys.executable, "-m", "euromine_qgis.cli", "mapsites", "--sites-folder", str(out),
                           "--years", "2021-2022", "--model", MODEL, "--device", "cpu", "--no-site-reports",
                           "--output-folder", str(maps), "--json"],
                          env=command_env(), capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["SITE_NAMES"] == result["MAPPED"] == [SITE]
    footprints = result["SITE_RESULTS"][SITE]["footprints"]
    assert len(footprints) == 2
    for footprint, year in zip(footprints, (2021, 2022), strict=True):
        assert same_grid(footprint, out / SITE / "image" / f"Year{year}.tif")


def test_then_map_maps_the_new_site(api, tmp_path):
    served = api("earth-search-c1")
    out = tmp_path / "sites"
    done = composites(served, out, "2022-2023", "--then-map", MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    footprints = sorted((out / SITE).rglob("footprint*2023*.tif"))
    assert footprints, f"no 2023 footprint under {out / SITE}: {sorted(p.name for p in (out / SITE).rglob('*'))}"
    assert same_grid(footprints[0], out / SITE / "image" / "Year2023.tif")
    assert json.loads(done.stdout)
