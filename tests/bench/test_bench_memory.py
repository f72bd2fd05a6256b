"""`make bench`: peak memory (and time) of one fp32 `unet_footprint` footprint run at the defaults,
on a 2000², a 20 000 × 2400 and a 20 000² scene, each in a fresh process (this file run as a script).

The scenes are one generated 2000² 10-band int16 year (test_bench_deepness's) and VRTs that repeat
it side by side and top to bottom. The peak is the child's resident-set high-water mark (VmHWM:
its ``ru_maxrss`` would also count the resident set of the pytest process that spawned it). The
engine holds one panel at a time (engine.inference.PANEL_BYTES), so the 20 000² scene is mapped
over its first PANELS_OF_LARGEST panels and then cancelled: the first panel carries what its last
tiles add past its edge down the whole height, the second holds that and its own, and every
later panel holds the same; its time is that of the part mapped.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = "unet_footprint"
SCENES = {"2000²": (2000, 2000), "20 000 × 2400": (2400, 20_000), "20 000²": (20_000, 20_000)}  # (height, width)
PANELS_OF_LARGEST = 2
GIB = 2**30


def measure(args: argparse.Namespace) -> dict[str, float]:
    """One run in this process: its seconds, the panels mapped and the process's peak resident set."""
    import rasterio

    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.inference import tile_layout
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.errors import Cancelled
    from euromine_qgis.core.maps.footprints import map_footprints
    from euromine_qgis.core.progress import Reporter
    from tests.bench.side_by_side import peak_kib
    from tests.plain_run import PLAIN_FOOTPRINTS

    model = Model(resolve_bundled(MODEL), device="cpu", scale=1.0, precision="fp32")
    with rasterio.open(args.image) as src:
        panels = len(tile_layout(model, src.height, src.width, PLAIN_FOOTPRINTS["settings"], [src]).panels) - 1
    stop = 100.0 * min(panels, args.panels or panels) / panels
    done = {"percent": 0.0}
    reporter = Reporter(progress=lambda p: done.update(percent=p),
                        is_canceled=lambda: stop < 100.0 and done["percent"] >= stop)
    start = time.perf_counter()
    try:
        map_footprints([(2020, Path(args.image))], model, Path(args.out), reporter=reporter, **PLAIN_FOOTPRINTS)
    except Cancelled:
        pass
    seconds = time.perf_counter() - start
    peak = peak_kib() * 1024  # VmHWM: this process's own peak (see test_memory_bound)
    return {"seconds": seconds, "peak": peak, "panels": panels, "mapped": min(panels, args.panels or panels)}


def test_peak_memory_at_the_defaults(tmp_path_factory):
    from tests.bench.test_bench_deepness import cpu_flags, cpu_name, utm_scene
    from tests.rasters import repeated_vrt

    work = tmp_path_factory.mktemp("memory")
    tile = utm_scene(work)  # a 2000² 10-band int16 generated year on a 10 m UTM grid
    rows = []
    for label, (height, width) in SCENES.items():
        image = tile if label == "2000²" else \
            repeated_vrt(tile, height, width, work / f"scene_{width}x{height}.vrt")
        out = work / f"out_{width}x{height}"
        panels = PANELS_OF_LARGEST if label == "20 000²" else 0
        done = subprocess.run([sys.executable, __file__, str(image), str(out), "--panels", str(panels)],
                              capture_output=True, text=True, check=False, cwd=REPO)
        assert done.returncode == 0, done.stderr[-4000:]
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((label, figures))
    print(f"\n== peak memory at the defaults: {MODEL}, fp32, CPU ({cpu_name()}; {cpu_flags()}); each scene a fresh "
          "process, peak = VmHWM")
    for label, f in rows:
        part = "" if f["mapped"] == f["panels"] else f" (its first {f['mapped']} of {f['panels']} panels)"
        print(f"   {label:14s} peak {f['peak'] / 2**20:7.0f} MiB, {f['seconds']:6.1f} s{part}")
    for label, f in rows:
        assert f["peak"] <= GIB, f"{label}: peak {f['peak'] / 2**20:.0f} MiB over 1 GiB"


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    parser = argparse.ArgumentParser()
    parser.add_argument("image")
    parser.add_argument("out")
    parser.add_argument("--panels", type=int, default=0, help="map this many panels, then cancel (0: all)")
    print(json.dumps(measure(parser.parse_args())))
