"""`euromine composites` from loopback STAC APIs of the three collection shapes (Earth Search's
sentinel-2-c1-l2a and sentinel-2-l2a, Planetary Computer's signed sentinel-2-l2a), each year compared
with the numpy reference; reruns that reuse finished years and redo changed ones."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import rasterio

from euromine_qgis.core.archive.manifest import read_manifest
from tests.archive.archive_runs import SITE, Api, check_year, composites, leftovers, serve, site_years, year_range
from tests.stac.reference import expected_year, used, window_of
from tests.stac.scenes import ALWAYS_CLOUDY, DARK, SHAPES, ShapeCatalogue
from tests.stac.server import SAS_PREFIX

pytestmark = pytest.mark.slow  # the command in a process of its own, reading over HTTP
COMPARED = (2021, 2022, 2023)  # before, across and after the baseline change of 25 January 2022
# the years compared per shape: both sides of the change (Collection 1 one more, its run is shared)
SHAPE_YEARS = {"earth-search-c1": COMPARED, "earth-search-l2a": (2021, 2022), "planetary": (2021, 2022)}


@dataclass(frozen=True)
class Run:
    """A finished run: the API it read, its output folder, the process and the bytes it read per path."""

    served: Api
    out: Path
    done: subprocess.CompletedProcess
    bytes_read: dict[str, int]


@pytest.fixture(scope="module")
def c1_run(scenes, tmp_path_factory) -> Iterator[Run]:
    """One run of COMPARED from the Earth Search Collection 1 API, shared by the module's tests (the
    rerun test, last, makes 2021 again)."""
    served = serve(scenes.shapes["earth-search-c1"], scenes.root)
    out = tmp_path_factory.mktemp("c1") / "out"
    done = composites(served, out, year_range(COMPARED))
    yield Run(served, out, done, dict(served.server.bytes_served))
    served.server.stop()


@pytest.mark.parametrize("shape", SHAPES)
def test_composites_equal_the_reference(request, api, shape, tmp_path):
    if shape == "earth-search-c1":
        run = request.getfixturevalue("c1_run")
    else:
        served = api(shape)
        out = tmp_path / "out"
        run = Run(served, out, composites(served, out, year_range(SHAPE_YEARS[shape])), {})
        run.bytes_read.update(served.server.bytes_served)
    served, out, done, years = run.served, run.out, run.done, SHAPE_YEARS[shape]
    assert done.returncode == 0, done.stderr[-3000:]
    assert site_years(out) == [f"Year{y}.tif" for y in years]
    shares = {y: check_year(out / SITE / "image" / f"Year{y}.tif", served, y) for y in years}
    print(f"{shape}: share within 1 DN per year {shares}")
    assert leftovers(out) == [], "only the composites, the clear counts and the manifest are left"
    assert sorted(read_manifest(out / SITE)) == [str(y) for y in years], "the manifest records every year made"
    # scenes outside the season or above MAX_CLOUD are never read
    kept = {w.item_id for y in years for w in used(served.shape.written, y)}
    for item in (w for w in served.shape.written if w.scene.when.year in years):
        read = sum(n for path, n in run.bytes_read.items() if f"/{item.item_id}/" in path)
        assert (read > 0) == (item.item_id in kept), f"{item.item_id} ({item.scene.kind}): {read} bytes read"
    if served.server.catalogue.signed:
        assert not [entry for entry in served.server.log if entry[2] == 403], "every asset read was signed"
        assert served.server.requests[SAS_PREFIX + served.collection] >= 1, "the token came from the endpoint"


def test_special_pixels(c1_run):
    """The patch without a clear observation in 2021 is nodata with a clear count of 0; the dark patch
    (reflectance at most 0.0001 in every scene) is 1, not nodata."""
    served, out = c1_run.served, c1_run.out
    assert c1_run.done.returncode == 0, c1_run.done.stderr[-3000:]
    image = out / SITE / "image" / "Year2021.tif"
    want = expected_year(served.shape, served.data_root, 2021)
    with rasterio.open(image) as src, rasterio.open(out / SITE / "clear" / "Year2021.tif") as clear:
        rows, cols = window_of(want, src.transform, src.height, src.width)
        got, counts = src.read(), clear.read()
    cloudy_rows = slice(ALWAYS_CLOUDY[0].start * 2 - rows.start, ALWAYS_CLOUDY[0].stop * 2 - rows.start)
    cloudy_cols = slice(ALWAYS_CLOUDY[1].start * 2 - cols.start, ALWAYS_CLOUDY[1].stop * 2 - cols.start)
    assert (got[:, cloudy_rows, cloudy_cols] == 0).all() and (counts[:, cloudy_rows, cloudy_cols] == 0).all()
    dark_rows = slice(DARK[0].start - rows.start, DARK[0].stop - rows.start)
    dark_cols = slice(DARK[1].start - cols.start, DARK[1].stop - cols.start)
    for b in (0, 1, 2, 6):  # the 10 m bands hold the dark patch
        patch = got[b, dark_rows, dark_cols]
        assert (patch[patch != 0] == 1).all() and (patch != 0).mean() > 0.9, patch


def test_season_across_the_baseline_change(api, tmp_path):
    """MONTHS 1-10 in 2022 takes in the January scenes either side of 25 January (baseline 03.01,
    then 04.00 with the +1000 offset): Planetary Computer's items say which by their baseline alone."""
    served = api("planetary")
    out = tmp_path / "out"
    done = composites(served, out, "2022", "--months", "1-10")
    assert done.returncode == 0, done.stderr[-3000:]
    january = [w for w in used(served.shape.written, 2022, (1, 10)) if w.scene.when.month == 1]
    assert sorted(w.offset_dn for w in january) == [0, 1000]
    check_year(out / SITE / "image" / "Year2022.tif", served, 2022, months=(1, 10))


def test_rerun_reuses_finished_years_and_redoes_changed_ones(c1_run):
    """Last in the module: it makes 2021 of the shared run again."""
    served, out = c1_run.served, c1_run.out
    assert c1_run.done.returncode == 0, c1_run.done.stderr[-3000:]
    files = sorted((out / SITE).rglob("Year*.tif"))
    stamps = {p: p.stat().st_mtime_ns for p in files}
    served.server.reset_counters()
    again = composites(served, out, year_range(COMPARED))
    assert again.returncode == 0, again.stderr[-3000:]
    assert served.server.data_bytes() == 0, "finished years are reused, no pixel read again"
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    # one of 2021's scenes is withdrawn from the catalogue: 2021 is made again, the others reused
    gone = used(served.shape.written, 2021)[1]
    items = served.server.catalogue.items[served.collection]
    kept = list(items)
    items[:] = [i for i in items if i["id"] != gone.item_id]
    try:
        served.server.reset_counters()
        changed = composites(served, out, year_range(COMPARED))
    finally:
        items[:] = kept
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert served.server.data_bytes("/2021/") > 0
    assert served.server.data_bytes("/2022/") == served.server.data_bytes("/2023/") == 0
    assert [p for p in files if p.stat().st_mtime_ns != stamps[p]] == [
        out / SITE / "clear" / "Year2021.tif", out / SITE / "image" / "Year2021.tif"]
    without = ShapeCatalogue(served.shape.shape, served.shape.collection,
                             [w for w in served.shape.written if w.item_id != gone.item_id], kept)
    check_year(out / SITE / "image" / "Year2021.tif", served, 2021, shape=without)
