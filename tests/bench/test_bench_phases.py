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
past 100 %; on a busy machine a phase's wall seconds grow with the waits for a core, so each is
also given in CPU seconds of the threads that run it. End to end is imports + model load +
map_footprints. Raw session.run times the model alone over the very batches the engine ran
(side_by_side.py's way); the process's CPU seconds of both show how much work the engine adds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

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

    from euromine_qgis.core.engine import inference
    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.io import row_reader
    from euromine_qgis.core.maps import footprints
    from tests.bench.side_by_side import raw_session_run
    from tests.bench.test_bench_engine import PhaseClock
    from tests.plain_run import PLAIN_INPUT

    load_start = time.perf_counter()
    model = Model(resolve_bundled(MODEL), device="cpu", scale=1.0)
    load = time.perf_counter() - load_start

    # each phase timed twice: wall seconds, and CPU seconds of the threads that run it (steadier
    # on a busy machine; onnxruntime's own pool threads are not the caller's, so inference has none)
    wall, cpu = PhaseClock(), PhaseClock(time.thread_time)
    for module, name, phase in ((footprints, "check_inputs", "scaling check"), (row_reader, "read_window", "decode"),
                                (inference, "valid_pixels", "valid pixels"),
                                (inference, "normalize_into", "normalisation"),
                                (footprints, "footprint_values", "thresholding")):
        setattr(module, name, wall.call(phase, cpu.call(phase, getattr(module, name))))
    inference.RowReader.read = wall.call("reader's reads", cpu.call("reader's reads", inference.RowReader.read))
    inference._batches = wall.generator("reader", cpu.generator("reader", inference._batches))
    inference._background = wall.generator("waiting", cpu.generator("waiting", inference._background))
    footprints.predict_rows = wall.generator("loop", cpu.generator("loop", footprints.predict_rows))
    writer = footprints._YearWriter.__call__
    footprints._YearWriter.__call__ = wall.call("writer", cpu.call("writer", writer))
    model.positive_probability = wall.call("inference", cpu.call("inference", model.positive_probability))

    settings = inference.TileSettings(tile=args.tile, overlap=args.overlap, batch_size=args.batch or 0)
    run_start, run_cpu = time.perf_counter(), time.process_time()
    footprints.map_footprints([(YEAR, args.scene)], model, args.out, settings=settings, threshold=0.5,
                              temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    run, run_cpu = time.perf_counter() - run_start, time.process_time() - run_cpu

    raw = raw_session_run(model, args.scene, settings)

    figures = {"imports": imports, "model load": load, "map_footprints": run, "end to end": imports + load + run,
               "raw session.run": raw["seconds"], "map_footprints CPU": run_cpu,
               "raw session.run CPU": raw["cpu_seconds"]}
    for label, clock in (("", wall), (" CPU", cpu)):
        t = clock.seconds
        figures.update({f"{k}{label}": v for k, v in {
            "scaling check": t["scaling check"], "decode": t["decode"], "valid pixels": t["valid pixels"],
            "normalisation": t["normalisation"],
            "tile assembly": t["reader"] - t["reader's reads"] - t["valid pixels"] - t["normalisation"],
            "blending": t["loop"] - t["inference"] - t["waiting"], "thresholding": t["thresholding"],
            "writing": t["writer"] - t["thresholding"]}.items()})
    figures["inference"] = wall.seconds["inference"]
    return figures


def test_phases(tmp_path):
    from tests.bench.test_bench_deepness import cpu_flags, cpu_name, table, utm_scene
    from tests.bench.test_bench_engine import report

    scene = utm_scene(tmp_path)

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
                    f"raw session.run {m['raw session.run']:.2f} s: map_footprints / raw "
                    f"{m['map_footprints'] / m['raw session.run']:.2f}x (target <= 1.4 at Deepness's tiles); "
                    f"process CPU {m['map_footprints CPU']:.2f} s against {m['raw session.run CPU']:.2f} s "
                    f"({m['map_footprints CPU'] / m['raw session.run CPU']:.2f}x)")
    header = ["phase", *(f"{label}: {what}" for label in medians for what in ("wall s", "share", "CPU s"))]
    body = [[phase, *(cell for m in medians.values() for cell in (
        f"{m[phase]:.3f}", f"{100 * m[phase] / m['end to end']:.0f} %",
        f"{m[phase + ' CPU']:.3f}" if phase + " CPU" in m else ""))] for phase in PHASES]
    body.append(["end to end", *(cell for m in medians.values() for cell in (f"{m['end to end']:.3f}", "100 %", ""))])
    report(f"phases of one fp32 {MODEL} run, {SIDE} x {SIDE} px 10-band int16, CPU, medians of {REPEATS} fresh "
           f"processes, on {cpu_name()} (flags: {cpu_flags()}); wall seconds summed over the threads that run "
           "a phase (they overlap: shares can sum past 100 %) and their CPU seconds", rows + table(header, body))


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
