"""`euromine composites --dry-run` from the loopback Earth Search API: the scenes of each year with
their cloud cover, the bytes to read (the COG tiles under the site, from the tile index in each
file's header), no pixel read and nothing written."""
from __future__ import annotations

import json

import pytest

from euromine_qgis.core.archive.grid import site_grid
from euromine_qgis.core.archive.run import grid_bounds
from tests.archive.archive_runs import composites
from tests.stac.reference import used
from tests.stac.scenes import CRS, site_lonlat
from tests.stac.tiles import first_tile_offset, tile_bytes

pytestmark = pytest.mark.slow  # the command in a process of its own, over HTTP


def listed_scenes(result: object) -> dict[str, dict]:
    """Every scene record (a dict with an id and a cloud cover) anywhere in a result dict, by id."""
    found: dict[str, dict] = {}
    if isinstance(result, dict):
        if "id" in result and "cloud_cover" in result:
            found[result["id"]] = result
        for value in result.values():
            found.update(listed_scenes(value))
    elif isinstance(result, list):
        for value in result:
            found.update(listed_scenes(value))
    return found


def years_bytes(result: object) -> list[int]:
    """Every ``bytes_needed`` figure in a result dict."""
    if isinstance(result, dict):
        own = [result["bytes_needed"]] if isinstance(result.get("bytes_needed"), int) else []
        return own + [n for value in result.values() for n in years_bytes(value)]
    if isinstance(result, list):
        return [n for value in result for n in years_bytes(value)]
    return []


def site_grid_bounds() -> tuple[float, float, float, float]:
    """The site's grid (core.archive.grid.site_grid, checked against pyproj in test_archive_grid)."""
    return grid_bounds(site_grid(site_lonlat(), CRS, 10.0))


def test_dry_run_lists_the_scenes_and_reads_no_pixel(api, tmp_path):
    served = api("earth-search-c1")
    out = tmp_path / "out"
    done = composites(served, out, "2022", "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert not out.exists() or not any(out.rglob("*")), "a dry run writes nothing"
    result = json.loads(done.stdout)
    listed = listed_scenes(result)
    needed = []
    for year in (2022,):
        kept = used(served.shape.written, year)
        for item in served.shape.written:
            if item.scene.when.year == year and item not in kept:
                assert item.item_id not in listed, f"{item.item_id} ({item.scene.kind}) is not listed"
        for item in kept:
            assert listed[item.item_id]["cloud_cover"] == pytest.approx(item.scene.cloud_cover), item.item_id
        needed.append(sum(tile_bytes(served.data_root / f, site_grid_bounds()) for w in kept for f in w.files.values()))
    assert years_bytes(result) == needed, "each year's bytes to read are those of the tiles under the site"
    # No pixel read: at most the header block GDAL reads first from each COG (the bytes to read come
    # from the tile index in the header), never a range that starts past the header.
    assert served.server.data_requests() > 0, "the bytes to read come from the COGs' headers"
    for path, start, _ in served.server.ranges:
        header = first_tile_offset(served.data_root / path.removeprefix("/data/"))
        assert start < header, f"{path}: bytes {start}- read, past the header ({header} bytes)"
