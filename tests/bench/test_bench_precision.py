"""`make bench`: the precision table. For every bundled model with an int8 sibling: seconds per
batch of fp32 and int8 as PRECISION=auto times them (the engine's own tile and batch size, fresh
cache), their ratio, end-to-end time of mapping a generated site with each, the share of pixels
where the int8 map agrees with fp32, the held-out score change recorded in models.json, and what
auto chose on this machine."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from euromine_qgis.core.engine.bundled import MODELS_DIR
from euromine_qgis.core.engine.hardware import cpu_name
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.precision import CACHE_ENV, CACHE_FILE
from export.site_scores import map_scene
from export.synthetic import generate_site

SIDE = 1000
REPEATS = 3


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


def test_precision_table(site, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    entries = json.loads((MODELS_DIR / "models.json").read_text(encoding="utf-8"))["models"]
    rows = []
    for entry in (e for e in entries if "int8" in e.get("variants", {})):
        parent = MODELS_DIR / entry["file"]
        auto = Model(parent, device="cpu", precision="auto", scale=1.0)
        cache = json.loads((tmp_path / CACHE_FILE).read_text())
        batch = next(v for k, v in cache.items() if k.startswith(entry["sha256"]))["seconds_per_batch"]
        images = site[:auto.info.images_per_sample or 2]
        fp32_s, fp32_map, valid = end_to_end(Model(parent, device="cpu", precision="fp32", scale=1.0), images)
        int8_s, int8_map, _ = end_to_end(Model(parent, device="cpu", precision="int8", scale=1.0), images)
        agree = np.mean(fp32_map[valid] == int8_map[valid])
        heldout = next(iter(entry["variants"]["int8"]["heldout_change"].values()))
        speed = batch["fp32"] / batch["int8"]
        rows.append(f"{entry['name']:18s} {batch['fp32']:8.3f} {batch['int8']:6.3f} {speed:5.2f}× "
                    f"{fp32_s:9.2f} {int8_s:6.2f} {fp32_s / int8_s:5.2f}×  {agree:9.4%} {heldout:+10.4f}  "
                    f"{auto.precision}")
    print(f"\n== precision: fp32 against the int8 sibling, CPU ({cpu_name()}); per batch: the engine's tile and "
          f"batch as auto times them; end to end: a generated {SIDE}² site, median of {REPEATS}")
    print("   model              s/batch fp32  int8  speed  e2e s fp32  int8  speed  map agree  held-out Δ  auto")
    for row in rows:
        print("   " + row)
