"""`make bench`: the precision table and what ``PRECISION=auto`` costs on first use.

1. For every bundled model with an int8 sibling: seconds per tile of fp32 and int8 as auto times
   them (one tile of at most 256 px, fresh cache), their ratio, end-to-end time of mapping a
   generated site with each, the share of pixels where the int8 map agrees with fp32, the held-out
   score change recorded in models.json, what auto chose on this machine and its end-to-end speed
   against fp32 (auto must never be slower than fp32 beyond MIN_SPEEDUP's 5 %; printed, because one
   run on a shared machine is noisy).
2. auto's first-use overhead: child processes that open the model with PRECISION=auto and map the
   site, with an empty cache and with the verdict cached; the difference of the time to open the
   model (the verdict) and of the peak RSS (VmHWM), median of REPEATS, asserted within 1 s and
   100 MB.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from euromine_qgis.core.engine.bundled import MODELS_DIR
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.precision import CACHE_ENV, CACHE_FILE
from export.site_scores import map_scene
from export.synthetic import generate_site
from tests.bench.test_bench_deepness import cpu_flags, cpu_name

REPO = Path(__file__).resolve().parents[2]
SIDE = 1000
REPEATS = 3
ENTRIES = [e for e in json.loads((MODELS_DIR / "models.json").read_text(encoding="utf-8"))["models"]
           if "int8" in e.get("variants", {})]
# A child: open the model with PRECISION=auto (timed), map the site, print the seconds to open,
# the peak RSS in MB and the verdict.
# The peak is VmHWM, the child's own (Linux keeps ru_maxrss across exec: a child of this process
# would report this process's peak).
AUTO_RUN = """
import sys, time
from euromine_qgis.core.engine.model import Model
from export.site_scores import map_scene
start = time.perf_counter()
model = Model(sys.argv[1], device="cpu", precision="auto", scale=1.0)
opened = time.perf_counter() - start
map_scene(model, sys.argv[2:])
peak = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
print(opened, peak / 1024, model.precision, model.precision_reason)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = generate_site(tmp_path_factory.mktemp("precision"), "Scene", seed=5, size=(SIDE, SIDE), years=(2019, 2020))
    return sorted((folder / "image").glob("Year*.tif"))


def end_to_end(model: Model, images) -> tuple[float, np.ndarray, np.ndarray]:
    """Median seconds of mapping ``images`` over REPEATS runs, and the last run's map and valid pixels."""
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        probability, valid = map_scene(model, images)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), probability > 0.5, valid


def images_for(entry, site) -> list[Path]:
    """The site's years a model of ``entry`` takes: two for series and change models, else one."""
    return site[:2] if entry["task"] in ("footprint_series", "change") else site[:1]


def test_precision_table(site, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    rows = []
    for entry in ENTRIES:
        parent = MODELS_DIR / entry["file"]
        auto = Model(parent, device="cpu", precision="auto", scale=1.0)
        cache = json.loads((tmp_path / CACHE_FILE).read_text())
        timed = next(v for k, v in cache.items() if k.startswith(entry["sha256"]))
        per_tile = timed["seconds_per_tile"]
        images = images_for(entry, site)
        fp32_s, fp32_map, valid = end_to_end(Model(parent, device="cpu", precision="fp32", scale=1.0), images)
        int8_s, int8_map, _ = end_to_end(Model(parent, device="cpu", precision="int8", scale=1.0), images)
        agree = np.mean(fp32_map[valid] == int8_map[valid])
        heldout = next(iter(entry["variants"]["int8"]["heldout_change"].values()))
        auto_s = int8_s if auto.precision == "int8" else fp32_s
        rows.append(f"{entry['name']:20s} {timed['timed']['tile_side']:4d} {per_tile['fp32']:7.4f} "
                    f"{per_tile['int8']:7.4f} {per_tile['fp32'] / per_tile['int8']:5.2f}× {fp32_s:7.2f} "
                    f"{int8_s:6.2f} {fp32_s / int8_s:5.2f}×  {agree:9.4%} {heldout:+10.4f}  {auto.precision:5s} "
                    f"{fp32_s / auto_s:5.2f}×")
    print(f"\n== precision: fp32 against the int8 sibling, CPU ({cpu_name()}; {cpu_flags()}); per tile: auto's "
          f"timing (one tile, median); end to end: a generated {SIDE}² site at the default tiles, median of {REPEATS}")
    print("   model                tile  s fp32    int8  speed  e2e fp32  int8  speed  map agree  held-out Δ  auto  "
          "auto/fp32 speed")
    for row in rows:
        print("   " + row)


def auto_child(model: Path, images: list[Path], cache: Path) -> tuple[float, float, str, str]:
    """Seconds to open ``model`` with auto, peak RSS (MB), precision and reason, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", AUTO_RUN, str(model), *map(str, images)], cwd=REPO,
                         env={**os.environ, CACHE_ENV: str(cache)}, capture_output=True, text=True, check=True)
    opened, peak, precision, reason = out.stdout.strip().split(" ", 3)
    return float(opened), float(peak), precision, reason


def test_auto_first_use_overhead(site, tmp_path):
    rows, worst_s, worst_mb = [], 0.0, 0.0
    for entry in ENTRIES:
        parent, images = MODELS_DIR / entry["file"], images_for(entry, site)
        first = [auto_child(parent, images, tmp_path / entry["name"] / str(n)) for n in range(REPEATS)]
        cached = [auto_child(parent, images, tmp_path / entry["name"] / "0") for _ in range(REPEATS)]
        assert all(r[3].startswith("measured: ") for r in first) and all(r[3].startswith("cached ") for r in cached)
        extra_s = float(np.median([r[0] for r in first]) - np.median([r[0] for r in cached]))
        extra_mb = float(np.median([r[1] for r in first]) - np.median([r[1] for r in cached]))
        worst_s, worst_mb = max(worst_s, extra_s), max(worst_mb, extra_mb)
        peak = np.median([r[1] for r in cached])
        rows.append(f"{entry['name']:20s} {extra_s:+6.2f} s {extra_mb:+7.1f} MB   peak {peak:6.0f} MB"
                    f"   chose {', '.join(sorted({r[2] for r in first}))} ({first[0][3]})")
    print(f"\n== PRECISION=auto, first use against a cached verdict (child processes: open the model, map a "
          f"{SIDE}² site; median of {REPEATS}), CPU ({cpu_name()}; {cpu_flags()})")
    for row in rows:
        print("   " + row)
    assert worst_s <= 1.0 and worst_mb <= 100.0, f"first use costs {worst_s:.2f} s and {worst_mb:.1f} MB at worst"
