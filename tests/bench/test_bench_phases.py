"""`make bench`: where one fp32 `unet_footprint` run's time goes, phase by phase, on this machine.

One 2000² 10-band int16 generated scene (test_bench_deepness's), mapped with map_footprints at the
Deepness comparison's tiles (160 px, overlap 32, batch 4) and at the defaults. Every run is a fresh
process (this file run as a script), REPEATS of them per setting; each figure is the median over
the repeats. Phases are timed by wrapping the engine's own functions in that process (PhaseClock):

- imports: ``import euromine_qgis.cli.main`` (everything the command loads before it runs);
- model load: the fp32 onnxruntime session and its metadata (Model);
- scaling check: check_inputs (io: the sample it reads; the band medians);
- decode: GDAL reads of the row reader (io.raster.read_window, summed over its decoding threads);
- valid pixels, normalisation: valid_pixels and normalize_into in the reader thread;
- tile assembly: the rest of the reader thread (windows, reflection padding, zero tiles), less its
  waits for the decoding threads;
- inference: Model.positive_probability (session.run and the sigmoid);
- blending: the rest of predict_rows' loop, less its waits for the reader thread;
- thresholding: footprint_values in the writer thread; writing: the rest of the writer thread.

Reader, decoding and writer threads overlap the loop, so the shares of the end-to-end time can sum
past 100 %. End to end is imports + model load + map_footprints. Raw session.run times the model
alone over the very batches the engine ran (side_by_side.py's way).
"""
from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402  (after START: the imports are a phase)
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIDE, YEAR = 2000, 2020
REPEATS = 5
MODEL = "unet_footprint"
SETTINGS = {"Deepness's tiles (160, overlap 32, batch 4)": ("--tile", "160", "--overlap", "32", "--batch", "4"),
            "defaults": ()}
PHASES = ("imports", "model load", "scaling check", "decode", "valid pixels", "normalisation", "tile assembly",
          "inference", "blending", "thresholding", "writing")


def measure(args: argparse.Namespace) -> dict[str, float]:
    """One run in this process: every phase's seconds, the end-to-end and the raw session.run time."""
    imports_start = time.perf_counter()
    import euromine_qgis.cli.main  # noqa: F401  (what the command loads)
    imports = time.perf_counter() - imports_start

    import rasterio

    from euromine_qgis.core.engine import inference
    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.io import row_reader
    from euromine_qgis.core.maps import footprints
    from tests.bench.test_bench_engine import PhaseClock
    from tests.plain_run import PLAIN_INPUT

    load_start = time.perf_counter()
    model = Model(resolve_bundled(MODEL), device="cpu", scale=1.0)
    load = time.perf_counter() - load_start

    clock = PhaseClock()
    for module, name, phase in ((footprints, "check_inputs", "scaling check"), (row_reader, "read_window", "decode"),
                                (inference, "valid_pixels", "valid pixels"),
                                (inference, "normalize_into", "normalisation"),
                                (footprints, "footprint_values", "thresholding")):
        setattr(module, name, clock.call(phase, getattr(module, name)))
    inference.RowReader.read = clock.call("reader's reads", inference.RowReader.read)
    inference._batches = clock.generator("reader", inference._batches)
    inference._background = clock.generator("waiting", inference._background)
    footprints.predict_rows = clock.generator("loop", footprints.predict_rows)
    footprints._YearWriter.__call__ = clock.call("writer", footprints._YearWriter.__call__)
    model.positive_probability = clock.call("inference", model.positive_probability)  # type: ignore[method-assign]

    settings = inference.TileSettings(tile=args.tile, overlap=args.overlap, batch_size=args.batch or 0)
    run_start = time.perf_counter()
    footprints.map_footprints([(YEAR, args.scene)], model, args.out, settings=settings, threshold=0.5,
                              temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    run = time.perf_counter() - run_start

    raw = 0.0
    with inference.engine_env(), rasterio.open(args.scene) as src:
        layout = inference.tile_layout(model, src.height, src.width, settings)
        plan = inference._Plan(src.height, src.width, inference.resolve_tiling(model.info, settings))
        for batch in inference._read_batches([src], model, plan, layout.batch_size, [None]):
            tick = time.perf_counter()
            model.session.run([model.output_name], {model.input_names[0]: batch.tiles})
            raw += time.perf_counter() - tick

    s = clock.seconds
    return {
        "imports": imports, "model load": load, "scaling check": s["scaling check"], "decode": s["decode"],
        "valid pixels": s["valid pixels"], "normalisation": s["normalisation"],
        "tile assembly": s["reader"] - s["reader's reads"] - s["valid pixels"] - s["normalisation"],
        "inference": s["inference"], "blending": s["loop"] - s["inference"] - s["waiting"],
        "thresholding": s["thresholding"], "writing": s["writer"] - s["thresholding"],
        "map_footprints": run, "end to end": imports + load + run, "raw session.run": raw,
        "process start to imports": imports_start - START,
    }


def test_phases(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    from export.synthetic import generate_site
    from tests.bench.test_bench_deepness import PIXEL_M, cpu_flags, cpu_name, table
    from tests.bench.test_bench_engine import report

    site = generate_site(tmp_path, "Bench", seed=11, size=(SIDE, SIDE), years=(YEAR,))
    with rasterio.open(site / "image" / f"Year{YEAR}.tif") as src:
        profile, pixels = src.profile, src.read()
    profile.update(crs="EPSG:32632", transform=from_origin(500_000, 4_520_000, PIXEL_M, PIXEL_M))
    scene = tmp_path / "scene.tif"
    with rasterio.open(scene, "w", **profile) as dst:
        dst.write(pixels)

    medians = {}
    for label, options in SETTINGS.items():
        runs = []
        for repeat in range(REPEATS):
            out = tmp_path / f"{len(medians)}_{repeat}"
            done = subprocess.run([sys.executable, __file__, str(scene), str(out), *options], cwd=REPO,
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr[-4000:]
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        medians[label] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    rows = []
    for label, m in medians.items():
        rows.append(f"{label}: end to end {m['end to end']:.2f} s, map_footprints {m['map_footprints']:.2f} s, "
                    f"raw session.run {m['raw session.run']:.2f} s (map_footprints / raw "
                    f"{m['map_footprints'] / m['raw session.run']:.2f}x)")
    header = ["phase", *(f"{label}: s" for label in medians), *(f"{label}: share" for label in medians)]
    body = [[phase, *(f"{m[phase]:.3f}" for m in medians.values()),
             *(f"{100 * m[phase] / m['end to end']:.0f} %" for m in medians.values())] for phase in PHASES]
    body.append(["end to end", *(f"{m['end to end']:.3f}" for m in medians.values()), *("100 %" for _ in medians)])
    report(f"phases of one fp32 {MODEL} run, {SIDE} x {SIDE} px 10-band int16, CPU, medians of {REPEATS} fresh "
           f"processes, on {cpu_name()} (flags: {cpu_flags()}); threads overlap, shares can sum past 100 %",
           rows + table(header, body))


def main() -> None:
    parser = argparse.ArgumentParser(description="one phase-timed run (test_bench_phases)")
    parser.add_argument("scene", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tile", type=int)
    parser.add_argument("--overlap", type=int)
    parser.add_argument("--batch", type=int)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
