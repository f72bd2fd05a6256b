"""`make bench`: ten years of composites of one site from the loopback STAC API, printed as figures
from one run on this machine: the COG bytes the server sent against the bytes of the windows the
site needs (the compressed tiles of each used asset that the site's grid touches, from each COG's
own tile index), the requests, and the time.

The scenes are Earth Search sentinel-2-c1-l2a items (tests/stac/scenes.py) on a 7.68 km grid with
256-pixel tiles, the 1.76 km site inside it, so that reading whole files would cost many times the
windows: 2016-2025, five scenes in season a year plus one above MAX_CLOUD and two outside the
season (never to be read). Loopback has no latency, so the time is the decode and compute bound of
a run, not what a real network gives.
"""
from __future__ import annotations

import time

import rasterio

from tests.archive.archive_runs import SITE, Api, composites, serve, year_range
from tests.bench.test_bench_deepness import cpu_flags, cpu_name
from tests.bench.test_bench_engine import report
from tests.stac.catalogues import generated
from tests.stac.reference import used
from tests.stac.scenes import BANDS, X0, Y0, Grid
from tests.stac.tiles import tile_bytes

YEARS = tuple(range(2016, 2026))
GRID = Grid(x0=X0 - 2560, y0=Y0 + 2560, side=768, block=256)
TARGET = 1.5  # bytes sent / bytes of the needed windows


def test_ten_years_bytes_against_windows(tmp_path):
    scenes = generated(("earth-search-c1",), years=YEARS, grid=GRID)
    api: Api = serve(scenes.shapes["earth-search-c1"], scenes.root)
    out = tmp_path / "out"
    try:
        start = time.perf_counter()
        done = composites(api, out, year_range(YEARS), timeout=1800)
        seconds = time.perf_counter() - start  # the command's own start (imports) included
        assert done.returncode == 0, done.stderr[-3000:]
        sent, requests = api.server.data_bytes(), api.server.data_requests()
    finally:
        api.server.stop()
    with rasterio.open(out / SITE / "image" / f"Year{YEARS[0]}.tif") as src:
        bounds, pixels = tuple(src.bounds), src.width * src.height
    items = [w for y in YEARS for w in used(api.shape.written, y)]
    files = [w.files[name] for w in items for name in [b.name for b in BANDS] + ["SCL"]]
    needed = sum(tile_bytes(scenes.root / f, bounds) for f in files)
    whole = sum((scenes.root / f).stat().st_size for f in files)
    ratio = sent / needed
    report(f"archive: {len(YEARS)} years of one site from the loopback STAC API, on {cpu_name()} "
           f"(flags: {cpu_flags()}); one run, a shared machine's timings are noisy", [
               f"site grid {pixels / 1e3:.0f} kpx at 10 m; {len(items)} scenes used of {len(api.shape.written)} "
               f"listed, {len(files)} assets",
               f"COG bytes sent {sent / 1e6:.2f} MB in {requests} requests; the needed windows' tiles "
               f"{needed / 1e6:.2f} MB; whole files {whole / 1e6:.2f} MB",
               f"ratio sent / needed {ratio:.2f} (target <= {TARGET}); sent / whole files {sent / whole:.2f}",
               f"time {seconds:.1f} s ({seconds / len(YEARS):.1f} s a year, {seconds / len(items):.2f} s a scene)",
           ])
    assert ratio <= TARGET, f"read {ratio:.2f} x the needed windows' bytes"
