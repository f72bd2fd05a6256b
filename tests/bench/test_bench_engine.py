"""`make bench`: the engine's speed and memory, printed as figures from one run on this machine.

1. end-to-end euromine mapping throughput against raw InferenceSession.run on the same tiles
   already in memory (same model, same batch);
2. against the benchmark's patch pipeline (160-px patches cut to files, inferred one by one,
   stitched back);
3. peak resident memory for 2 000², 8 000² and 20 000² scenes (10 bands);
4. GPU figures only where CUDA loads (the lent GPU machine), else a line saying they were skipped.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from euromine_qgis.core.engine.bundled import bundled_models
from euromine_qgis.core.engine.devices import CUDA, TENSORRT, provider_loads
from euromine_qgis.core.engine.inference import (
    TileSettings,
    _Plan,
    _reflect_to,
    auto_batch_size,
    engine_batches,
    engine_env,
    resolve_tiling,
)
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.footprints import map_footprints
from export.synthetic import generate_site
from tests.mapping_peak import mapping_peak
from tests.plain_run import AUTO_TILES, PLAIN_INPUT
from tests.rasters import repeated_vrt

REPO = Path(__file__).resolve().parents[2]
SIDE = 2000
YEARS = (2020, 2021)
PATCH = 160


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> list[tuple[int, Path]]:
    site = generate_site(tmp_path_factory.mktemp("bench"), "Bench", seed=11, size=(SIDE, SIDE), years=YEARS)
    return [(y, site / "image" / f"Year{y}.tif") for y in YEARS]


def footprint_models() -> list[tuple[str, Path]]:
    """Every bundled per-year footprint model: the spectral baseline (cheap, so reading and
    decoding the GeoTIFF set the pace) and the trained U-Net (compute-bound)."""
    return [(m.name, m.file) for m in bundled_models(task="footprint")]


def default_batch(model: Model) -> int:
    """The engine's automatic batch size for the model's default tiles."""
    tile = resolve_tiling(model.info, TileSettings(batch_size=0)).tile
    return auto_batch_size(model, tile * tile)


def raw_session_seconds(model: Model, images, batch: int) -> float:
    """InferenceSession.run alone over exactly the tiles and batches the engine runs."""
    batches = []
    for _, path in images:
        with rasterio.open(path) as src:
            plan = _Plan(src.height, src.width, resolve_tiling(model.info, TileSettings(batch_size=0)))
            x = _reflect_to(model.normalize(src.read()[None])[0], plan.canvas_h, plan.canvas_w)
        tiles = [x[:, y0:y0 + plan.th, x0:x0 + plan.tw] for y0 in plan.ys for x0 in plan.xs]
        batches += [np.stack(tiles[i:i + batch]) for i in range(0, len(tiles), batch)]
    start = time.perf_counter()
    for b in batches:
        model.session.run([model.output_name], {model.input_names[0]: b})
    return time.perf_counter() - start


def reader_seconds(model: Model, images, batch: int) -> float:
    """The engine's reader alone (decode, nodata masks, normalized batches), without the model."""
    start = time.perf_counter()
    with engine_env():
        for _, path in images:
            with rasterio.open(path) as src:
                for _ in engine_batches(model, [src], TileSettings(batch_size=batch)):
                    pass
    return time.perf_counter() - start


def engine_seconds(model: Model, images, out: Path, batch: int) -> float:
    start = time.perf_counter()
    map_footprints(images, model, out, settings=TileSettings(batch_size=batch),
                   threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    return time.perf_counter() - start


def mpx_years(images) -> float:
    return sum(rasterio.open(p).width * rasterio.open(p).height for _, p in images) / 1e6


def report(title: str, rows: list[str]) -> None:
    print(f"\n== {title}")
    for row in rows:
        print("   " + row)


@pytest.mark.parametrize("device", ["cpu", "cuda", "tensorrt"])
def test_throughput_against_raw_session(scene, tmp_path, device):
    provider = {"cpu": None, "cuda": CUDA, "tensorrt": TENSORRT}[device]
    if provider and not provider_loads(provider):
        report(f"throughput on {device}",
               [f"skipped: {provider} does not load here (run make bench on the GPU machine)"])
        pytest.skip(f"{provider} not available")
    rows = []
    for name, file in footprint_models():
        model = Model(file, device=device, scale=1.0)
        batch = default_batch(model)
        engine_seconds(model, scene[:1], tmp_path / "warm", batch)  # warm-up (TensorRT builds its engine here)
        e2e = engine_seconds(model, scene, tmp_path / f"e2e_{model.info.name}", batch)
        raw = raw_session_seconds(model, scene, batch)
        reader = reader_seconds(model, scene, batch)
        mpx = mpx_years(scene)
        rows.append(
            f"{name:22s} {model.provider} ({model.device_name}), batch {batch}: engine {mpx / e2e:7.2f} "
            f"Mpx-years/s, raw session.run {mpx / raw:7.2f} Mpx-years/s, ratio {raw / e2e:.2f} "
            f"(target >= {0.85 if device == 'cpu' else 0.8}); the engine's reader alone {mpx / reader:7.2f} Mpx-years/s"
        )
    report(f"throughput on {device}, {len(scene)} years of {SIDE} x {SIDE} px", rows)


def patch_pipeline_seconds(model: Model, images, work: Path) -> float:
    """The benchmark's way: cut non-overlapping 160-px patches to files, infer each, stitch back."""
    start = time.perf_counter()
    for year, path in images:
        patch_dir = work / f"patches_{year}"
        pred_dir = work / f"pred_{year}"
        patch_dir.mkdir(parents=True)
        pred_dir.mkdir()
        with rasterio.open(path) as src:
            profile = src.profile
            shape = src.shape
            for row in range(0, src.height, PATCH):
                for col in range(0, src.width, PATCH):
                    window = Window(col, row, min(PATCH, src.width - col), min(PATCH, src.height - row))
                    data = src.read(window=window)
                    prof = dict(profile, width=data.shape[2], height=data.shape[1],
                                transform=src.window_transform(window), tiled=False, compress=None)
                    prof.pop("blockxsize", None)
                    prof.pop("blockysize", None)
                    with rasterio.open(patch_dir / f"{row}_{col}.tif", "w", **prof) as dst:
                        dst.write(data)
        for patch in sorted(patch_dir.iterdir()):
            with rasterio.open(patch) as src:
                data = src.read()
                prof = dict(src.profile, count=1, dtype="uint8", nodata=255)
            x = _reflect_to(model.normalize(data[None])[0], PATCH, PATCH)[None]
            prob = model.positive_probability(x)[0, :data.shape[1], :data.shape[2]]
            with rasterio.open(pred_dir / patch.name, "w", **prof) as dst:
                dst.write((prob >= 0.5).astype(np.uint8), 1)
        stitched = np.full(shape, 255, np.uint8)
        for pred in pred_dir.iterdir():
            row, col = map(int, pred.stem.split("_"))
            with rasterio.open(pred) as src:
                stitched[row:row + src.height, col:col + src.width] = src.read(1)
        mask_profile = dict(profile, count=1, dtype="uint8", nodata=255)
        with rasterio.open(work / f"footprint_{year}.tif", "w", **mask_profile) as dst:
            dst.write(stitched, 1)
    return time.perf_counter() - start


def test_against_patch_pipeline(scene, tmp_path):
    rows = []
    for name, file in footprint_models():
        model = Model(file, device="cpu", scale=1.0)
        ours = engine_seconds(model, scene, tmp_path / f"ours_{model.info.name}", default_batch(model))
        theirs = patch_pipeline_seconds(model, scene, tmp_path / f"patches_{model.info.name}")
        rows.append(f"{name:22s} engine {ours:6.2f} s, patch pipeline {theirs:6.2f} s: "
                    f"{theirs / ours:.1f}x faster (target >= 5x)")
    report(f"against the patch pipeline, {len(scene)} years of {SIDE} x {SIDE} px, CPU", rows)


def test_peak_memory_is_flat(scene, tmp_path):
    rows = []
    for side in (2000, 8000, 20000):
        vrt = repeated_vrt(scene[0][1], side, side, tmp_path / f"scene_{side}.vrt")
        figures = mapping_peak(vrt, tmp_path / f"out_{side}")
        rows.append(f"{side:6d} x {side:<6d} px: peak RSS {figures['peak'] / 2**20:7.0f} MiB, "
                    f"{side * side / 1e6 / figures['seconds']:6.2f} Mpx/s")
    report("peak resident memory of one mapping process (target: flat, < 2048 MiB at 20000 x 20000)", rows)


class PhaseClock:
    """Seconds spent in the engine's phases of one run, summed over the threads that run them:
    wall seconds, or with ``timer=time.thread_time`` the CPU seconds of the threads that run them."""

    def __init__(self, timer=time.perf_counter) -> None:
        self.seconds: dict[str, float] = {}
        self.timer = timer

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def call(self, phase: str, function):
        """``function``, its calls counted under ``phase``."""
        def timed(*args, **kwargs):
            start = self.timer()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(phase, self.timer() - start)
        return timed

    def generator(self, phase: str, function):
        """A generator ``function`` whose steps (the time to each item) are counted under ``phase``."""
        def timed(*args, **kwargs):
            items = function(*args, **kwargs)
            try:
                while True:
                    start = self.timer()
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                    finally:
                        self.add(phase, self.timer() - start)
                    yield item
            finally:
                items.close()
        return timed


def _unfused_normalize(out, raw, mean, std):
    """The engine's normalization before item 3 of the speed work: a float32 copy of the block,
    then the z-score on it (one pass over the block more than normalize_into)."""
    values = raw.astype(np.float32)
    out[...] = (values - np.asarray(mean, np.float32).reshape(-1, 1, 1)) / np.asarray(std, np.float32).reshape(-1, 1, 1)
    return out


def test_phase_shares(scene, tmp_path, monkeypatch):
    """Where one run's time goes, per bundled footprint model: decoding (RowReader reads), batch
    assembly (the rest of the reader thread: valid pixels, normalization, padding), inference,
    blending (the rest of the engine's loop, less its waits for the reader) and writing (the writer
    thread). Reader and writer threads overlap the loop, so shares of the wall time can sum past 100 %.
    Each model runs as the engine is now and with the normalization it had before the cast was fused
    into it (a float32 copy first), so the line pairs show what the fusion bought."""
    from euromine_qgis.core.engine import inference
    from euromine_qgis.core.maps import footprints

    rows = []
    for name, file in footprint_models():
        for variant in ("now", "unfused cast"):
            model = Model(file, device="cpu", scale=1.0)
            clock = PhaseClock()
            with monkeypatch.context() as patch:
                if variant != "now":
                    patch.setattr(inference, "normalize_into", _unfused_normalize)
                patch.setattr(inference.RowReader, "read", clock.call("decode", inference.RowReader.read))
                patch.setattr(inference, "_batches", clock.generator("reader", inference._batches))
                patch.setattr(inference, "_background", clock.generator("waiting", inference._background))
                patch.setattr(model, "positive_probability", clock.call("inference", model.positive_probability))
                patch.setattr(footprints, "predict_rows", clock.generator("loop", footprints.predict_rows))
                writer = footprints._YearWriter.__call__
                patch.setattr(footprints._YearWriter, "__call__", clock.call("writing", writer))
                start = time.perf_counter()
                map_footprints(scene, model, tmp_path / f"phases_{name}_{len(rows)}",
                               settings=TileSettings(batch_size=0), threshold=0.5, temporal_filter="none",
                               min_area_ha=0.0, image_input=PLAIN_INPUT)
                wall = time.perf_counter() - start
            s = clock.seconds
            phases = {"decode": s["decode"], "batch assembly": s["reader"] - s["decode"], "inference": s["inference"],
                      "blending": s["loop"] - s["inference"] - s["waiting"], "writing": s["writing"]}
            rows.append(f"{name:22s} {variant:12s} {wall:6.2f} s: "
                        + ", ".join(f"{k} {100 * v / wall:4.0f} %" for k, v in phases.items()))
    report(f"engine phases as shares of one run's wall time, {len(scene)} years of {SIDE} x {SIDE} px, CPU", rows)


def test_detectchange_decodes_each_image_once(scene, tmp_path, monkeypatch):
    """detectchange METHOD=change_model with the bundled U-Net and change model: wall time and
    pixels decoded per image pixel, each image decoded once for both models (now) against each
    of the three streams decoding its own images (as before)."""
    from contextlib import contextmanager

    from euromine_qgis.core.io import row_reader
    from euromine_qgis.core.maps import bitemporal

    unet = next(m.file for m in bundled_models(task="footprint") if m.name == "unet_footprint")
    footprint = Model(unet, device="cpu", scale=1.0)
    change = Model(bundled_models(task="change")[0].file, device="cpu", scale=1.0)
    (_, before), (_, after) = scene
    rows = []
    decoded = {"px": 0}
    real_read = row_reader.read_window

    def counting_read(src, window, indexes, out=None):
        decoded["px"] += window.height * window.width
        return real_read(src, window, indexes, out=out)

    @contextmanager
    def apart(*args, **kwargs):
        yield None

    for variant in ("now: each image decoded once", "before: each stream decodes its images"):
        decoded["px"] = 0
        with monkeypatch.context() as patch:
            patch.setattr(row_reader, "read_window", counting_read)
            if variant.startswith("before"):
                patch.setattr(bitemporal, "decoded_once", apart)
            start = time.perf_counter()
            bitemporal.detect_change(before, after, tmp_path / f"change_{len(rows)}.tif", footprint, change,
                                     threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
            wall = time.perf_counter() - start
        rows.append(f"{variant:42s} {wall:6.2f} s, {decoded['px'] / (2 * SIDE * SIDE):4.2f} px decoded per image px")
    report(f"detectchange change_model (unet_footprint + {change.info.name}), {SIDE} x {SIDE} px, CPU", rows)
