"""`make bench`: how far tiled output is from whole-scene inference, for every bundled model, with
the default tiling (its tolerant receptive field), TILE_OVERLAP=exact (its exact field) and the
older one (160-px tiles, 32 px of overlap, a quarter of it dropped, the last tile flush with the
scene end); how many model runs each costs per output pixel; and what the default tiling costs in
time against non-overlapping 160-px tiles on a 2400 × 20 000 scene."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from euromine_qgis.core.engine.bundled import bundled_models
from euromine_qgis.core.engine.contract import METADATA_KEY, TOLERANT_FIELD_TOLERANCE
from euromine_qgis.core.engine.inference import TileSettings, resolve_tiling, tile_layout
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.model_cards import model_cards, tolerant_text
from euromine_qgis.core.engine.tiling import align_up
from export.synthetic import generate_site
from tests.bench.test_bench_deepness import cpu_flags, cpu_name
from tests.plain_run import AUTO_TILES
from tests.rasters import repeated_vrt
from tests.unit.test_receptive_field import tiled, whole_scene

SIDE = 1000
REPO = Path(__file__).resolve().parents[2]
REPEATS = 3


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = generate_site(tmp_path_factory.mktemp("tiling"), "Scene", seed=5, size=(SIDE, SIDE), years=(2019, 2020))
    return sorted((folder / "image").glob("Year*.tif"))


def without_field(path, out) -> Model:
    """The model with its receptive field and alignment removed from its metadata: the older tiling."""
    proto = onnx.load(str(path))
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            meta = json.loads(prop.value)
            for key in ("receptive_field", "tolerant_receptive_field", "alignment"):
                meta.pop(key, None)
            prop.value = json.dumps(meta)
    onnx.save(proto, str(out))
    return Model(out, device="cpu", scale=1.0)


def test_tiled_against_whole_scene(site, tmp_path):
    rows = []
    for entry in bundled_models():
        model = Model(entry.file, device="cpu", scale=1.0)
        paths = site[:model.info.images_per_sample or 2]
        expected = whole_scene(model, paths)
        older = without_field(entry.file, tmp_path / entry.file.name)
        overlap = resolve_tiling(model.info, TileSettings(batch_size=0)).overlap
        smaller = TileSettings(tile=align_up(max(overlap * 3 // 2, 400), model.info.alignment), batch_size=0)
        for label, m, settings in (("default tiling", model, TileSettings(batch_size=0)),
                                   ("exact tiling", model, TileSettings(exact=True, batch_size=0)),
                                   (f"{smaller.tile}-px tiles", model, smaller),
                                   ("older tiling", older, TileSettings(batch_size=0))):
            got = tiled(m, paths, settings)
            valid = ~np.isnan(expected)
            error = np.abs(got - expected)[valid]
            changed = np.mean(((got > 0.5) != (expected > 0.5))[valid])
            rows.append(f"{entry.name:22s} {label:15s} max |p - whole scene| {error.max():.1e}, "
                        f"pixels off by more than 1e-5: {np.mean(error > 1e-5):6.2%}, by more than "
                        f"{TOLERANT_FIELD_TOLERANCE:g}: {np.mean(error > TOLERANT_FIELD_TOLERANCE):.4%}, "
                        f"changed class at 0.5: {changed:.4%}")
    print(f"\n== tiled against whole-scene inference, a generated {SIDE} x {SIDE} site, CPU")
    for row in rows:
        print("   " + row)


def test_model_runs_per_output_pixel():
    """How many times the default tiling runs each model per output pixel, by scene side."""
    print("\n== model runs per output pixel with the default tiling (tile side in brackets)")
    for entry in bundled_models():
        model = Model(entry.file, device="cpu", scale=1.0)
        cells = []
        for side in (1000, 2000, 20000):
            layout = tile_layout(model, side, side, settings=AUTO_TILES)
            runs = layout.tiles * layout.tile_height * layout.tile_width / side ** 2
            cells.append(f"{side}²: {runs:.2f} ({layout.tile_height} px)")
        print(f"   {entry.name:22s} " + ", ".join(cells))


WIDE = (2400, 20000)  # height, width: a scene as wide as two Sentinel-2 tiles
PLAIN_TILES = {"tile": 160, "overlap": 0}  # non-overlapping 160-px tiles: the cheapest tiling, not whole-scene
TARGET_RATIO = 1.3  # what the default tiling was asked to cost against PLAIN_TILES
MAP_ONE = """
import json, sys, time
from pathlib import Path
from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.footprints import map_footprints
from tests.bench.side_by_side import peak_kib, raw_session_run
from tests.plain_run import PLAIN_FOOTPRINTS
image, model_file, out, tiles = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4])
start = time.perf_counter()
model = Model(model_file, device="cpu", precision="fp32", scale=1.0)
options = dict(PLAIN_FOOTPRINTS, settings=TileSettings(batch_size=0, **tiles))
map_footprints([(2020, image)], model, out, **options)
seconds, peak = time.perf_counter() - start, peak_kib()
raw = raw_session_run(model, image, options["settings"])
print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "raw_seconds": raw["seconds"]}))
"""


def wide_scene(folder: Path) -> Path:
    """A WIDE scene: a generated site of WIDE[0] × WIDE[0] px repeated side by side in a VRT."""
    site = generate_site(folder, "Wide", seed=9, size=(WIDE[0], WIDE[0]), years=(2020,))
    return repeated_vrt(site / "image" / "Year2020.tif", *WIDE, folder / "wide.vrt")


def map_in_child(image: Path, model: Path, out: Path, tiles: dict) -> dict:
    """Seconds and peak resident MiB of mapping ``image`` with ``tiles`` in a fresh process, fp32 on
    the CPU, then the seconds of session.run alone over the same tiles (side_by_side.raw_session_run)."""
    done = subprocess.run([sys.executable, "-c", MAP_ONE, str(image), str(model), str(out), json.dumps(tiles)],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_default_tiling_against_plain_tiles(tmp_path):
    """The price of the default tiling on a wide scene: its time against non-overlapping 160-px tiles
    (medians of REPEATS fresh processes, interleaved), with the tolerance it keeps and what that
    tolerance did on held-out sites (the model card's check), and TILE_OVERLAP=exact for comparison."""
    entry = next(m for m in bundled_models() if m.name == "unet_footprint")
    model = Model(entry.file, device="cpu", scale=1.0)
    image = wide_scene(tmp_path)
    settings = {"160-px tiles, overlap 0": PLAIN_TILES, "default (auto)": {}, "exact": {"exact": True}}
    runs: dict[str, list[dict]] = {label: [] for label in settings}
    for repeat in range(REPEATS):
        for n, (label, tiles) in enumerate(settings.items()):
            runs[label].append(map_in_child(image, entry.file, tmp_path / f"out_{n}_{repeat}", tiles))
    seconds = {label: statistics.median(r["seconds"] for r in rs) for label, rs in runs.items()}
    raw = {label: statistics.median(r["raw_seconds"] for r in rs) for label, rs in runs.items()}
    peaks = {label: max(r["peak_mib"] for r in rs) for label, rs in runs.items()}
    plain, plain_raw = seconds["160-px tiles, overlap 0"], raw["160-px tiles, overlap 0"]
    print(f"\n== unet_footprint fp32 on a {WIDE[0]} x {WIDE[1]} scene, {cpu_name()} ({cpu_flags()}), "
          f"median of {REPEATS} fresh processes")
    for label, tiles in settings.items():
        layout = tile_layout(model, *WIDE, TileSettings(batch_size=0, **tiles))
        runs_per_pixel = layout.tiles * layout.tile_height * layout.tile_width / (WIDE[0] * WIDE[1])
        print(f"   {label:24s} {seconds[label]:6.1f} s  {seconds[label] / plain:4.2f}x  peak {peaks[label]:5.0f} MiB  "
              f"{layout.tile_height} x {layout.tile_width}-px tiles, overlap {layout.tiling.overlap} px, "
              f"{runs_per_pixel:.2f} model runs per output pixel; session.run alone over the same tiles "
              f"{raw[label]:5.1f} s, {raw[label] / plain_raw:4.2f}x")
    card = next(c for c in model_cards(bundled_models()) if c["name"] == entry.name)
    print(f"   default tiling: {tolerant_text(card)}")
    ratio = seconds["default (auto)"] / plain
    print(f"   default / 160-px tiles: {ratio:.2f} (the issue's target, <= {TARGET_RATIO}: "
          f"{'met' if ratio <= TARGET_RATIO else 'not met'}); session.run alone: "
          f"{raw['default (auto)'] / plain_raw:.2f}, the ratio with no engine work at all")
    assert seconds["default (auto)"] < seconds["exact"]
