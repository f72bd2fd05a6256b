#!/usr/bin/env python3
"""`make gpu-check`: the engine on an NVIDIA GPU, in one run that needs only Python 3.12, numpy,
onnxruntime-gpu, rasterio's and pyproj's wheels, scipy (the site generator) and this repository.

1. the GPU tests (pytest -m gpu), which must all pass (only TensorRT may skip, where its libraries
   do not load);
2. every bundled model on a generated scene: a small batch-size sweep, the engine end to end
   against raw ``session.run`` on the same tiles and batches (target >= 0.8), Mpx-years per
   second and the GPU's peak memory;
3. a benchmark-scale workload: generated sites (the generator's sizes) x 10 years mapped one after
   another, extrapolated to EuroMineNet's 133 sites and a per-GPU throughput;
4. gpu_check.json and gpu_check.md in --out, naming the GPU, driver, CUDA, cuDNN and onnxruntime.

Without a working GPU it refuses (exit 2, one line why). --cpu-dry-run runs the same steps, smaller,
on CPUExecutionProvider to prove the script end to end on a machine without one.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SITES_IN_EUROMINENET = 133
RATIO_TARGET = 0.8
GPU_TESTS = ("tests/unit/test_gpu_engine.py", "tests/unit/test_devices.py", "tests/robustness/test_robust_gpu.py",
             "tests/unit/test_precision_gpu.py")


def use_wheel_proj_data() -> None:
    """rasterio's wheel carries its own PROJ data; point PROJ_DATA there where the system has none
    (tests/conftest.py would otherwise set Debian's /usr/share/proj)."""
    if os.environ.get("PROJ_DATA") or Path("/usr/share/proj").is_dir():
        return
    spec = importlib.util.find_spec("rasterio")
    if spec and spec.submodule_search_locations:
        data = Path(spec.submodule_search_locations[0]) / "proj_data"
        if data.is_dir():
            os.environ["PROJ_DATA"] = os.environ["PROJ_LIB"] = str(data)


def versions(provider: str) -> dict:
    """The machine, driver, CUDA and library versions the figures were measured with."""
    import numpy as np
    import onnxruntime as ort
    import rasterio

    from euromine_qgis.core.engine.devices import device_name
    from tests.gpu_support import nvidia_smi

    smi = nvidia_smi("name", "driver_version", "memory.total")
    header = ""
    if shutil.which("nvidia-smi"):
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, check=False).stdout
    cuda_driver = re.search(r"CUDA Version:\s*([\d.]+)", header)
    try:
        from onnxruntime.capi import build_and_package_info as build
        cuda_build = getattr(build, "cuda_version", None)
    except ImportError:
        cuda_build = None

    def dist(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "date": time.strftime("%Y-%m-%d"),
        "device": device_name(provider),
        "gpu": smi[0] if smi else None,
        "gpu_memory_mib": int(smi[2]) if smi else None,
        "driver": smi[1] if smi else None,
        "cuda_driver_api": cuda_driver.group(1) if cuda_driver else None,
        "cuda_onnxruntime_build": cuda_build,
        "cudnn": dist("nvidia-cudnn-cu13") or dist("nvidia-cudnn-cu12"),
        "onnxruntime": f"{ort.__version__} ({dist('onnxruntime-gpu') and 'onnxruntime-gpu' or 'onnxruntime'})",
        "providers_available": ort.get_available_providers(),
        "provider": provider,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
    }


def run_gpu_tests(out: Path, required: bool) -> dict:
    """pytest -m gpu over the GPU test files; with ``required`` a skip other than TensorRT's fails."""
    junit = out / "gpu_tests.xml"
    env = dict(os.environ, EUROMINE_REQUIRE_GPU="1" if required else "0")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "gpu",
                           f"--junitxml={junit}", *GPU_TESTS],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    (out / "gpu_tests.log").write_text(proc.stdout + proc.stderr)
    cases = []
    for case in ET.parse(junit).iter("testcase") if junit.is_file() else []:
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                message = child.get("message") or ""
                outcome, detail = child.tag, message.splitlines()[0] if message else ""
        cases.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome, "detail": detail})
    bad_skips = [c for c in cases if c["outcome"] == "skipped" and "TensorRT" not in c["detail"]]
    ok = proc.returncode == 0 and bool(cases) and not (required and bad_skips)
    return {"ok": ok, "exit_code": proc.returncode, "seconds": round(time.perf_counter() - start, 1), "cases": cases}


def raw_seconds(runs, settings) -> float:
    """``session.run`` alone over exactly the tiles and batches the engine runs: per (model, images)
    the scene's strips cut into batches, each batch real tiles of the scene's first batch."""
    import rasterio

    from euromine_qgis.core.engine.contract import model_inputs
    from euromine_qgis.core.engine.inference import first_batch, tile_layout

    seconds = 0.0
    for model, paths in runs:
        with ExitStack() as stack:
            srcs = [stack.enter_context(rasterio.open(p)) for p in paths]
            layout = tile_layout(model, srcs[0].height, srcs[0].width, settings)
            tiles = first_batch(model, srcs, settings)
        full, rest = divmod(layout.columns, layout.batch_size)
        sizes = ([layout.batch_size] * full + ([rest] if rest else [])) * layout.strips
        feeds = {n: dict(zip(model.input_names, model_inputs(tiles[:n], model.info, len(model.input_names)),
                             strict=True))
                 for n in set(sizes)}
        start = time.perf_counter()
        for n in sizes:
            model.session.run([model.output_name], feeds[n])
        seconds += time.perf_counter() - start
    return seconds


def bench_model(bundled, device: str, scene: list[tuple[int, Path]], work: Path) -> dict:
    """Batch sweep, engine end to end against raw session.run, throughput and peak GPU memory of one model."""
    import rasterio

    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.inference import TileSettings, tile_layout
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.engine.scaling import ImageInput
    from euromine_qgis.core.maps.bitemporal import detect_change
    from euromine_qgis.core.maps.footprints import map_footprints
    from tests.gpu_support import GpuMemoryWatch

    paths = [p for _, p in scene]
    with rasterio.open(paths[0]) as src:
        height, width = src.height, src.width
    mpx_years = height * width * len(scene) / 1e6
    with GpuMemoryWatch() as memory:
        model = Model(bundled.file, device=device, scale=1.0)
        if bundled.task == "change":  # the change layer needs a footprint model for gain/loss
            footprint = Model(resolve_bundled("spectral_baseline"), device=device, scale=1.0)
            runs = [(model, paths), (footprint, paths[:1]), (footprint, paths[1:])]

            def engine(settings: TileSettings, out: Path) -> None:
                detect_change(paths[0], paths[1], out / "change.tif", footprint, model, settings=settings,
                              threshold=0.5, image_input=ImageInput(scale=1.0))
        else:
            runs = [(model, paths)] if model.info.series else [(model, [p]) for p in paths]

            def engine(settings: TileSettings, out: Path) -> None:
                map_footprints(scene, model, out, settings=settings,
                               threshold=0.5, temporal_filter="none", min_area_ha=0.0,
                               image_input=ImageInput(scale=1.0))

        auto = tile_layout(model, height, width, settings=TileSettings(batch_size=0)).batch_size
        sweep = {}
        for n, batch in enumerate(sorted({max(1, auto // 4), max(1, auto // 2), auto, auto * 2})):
            settings = TileSettings(batch_size=batch)
            if n == 0:
                engine(settings, work / f"{bundled.name}_warm")  # CUDA/cuDNN set-up, TensorRT engine builds
            start = time.perf_counter()
            engine(settings, work / f"{bundled.name}_{batch}")
            sweep[batch] = time.perf_counter() - start
        best = min(sweep, key=sweep.get)
        raw = raw_seconds(runs, TileSettings(batch_size=best))
    return {
        "model": bundled.name, "task": bundled.task, "provider": model.provider, "auto_batch": auto,
        "best_batch": best, "sweep_mpx_years_per_s": {str(b): round(mpx_years / s, 2) for b, s in sweep.items()},
        "engine_mpx_years_per_s": round(mpx_years / sweep[best], 2), "raw_mpx_years_per_s": round(mpx_years / raw, 2),
        "engine_over_raw": round(raw / sweep[best], 3), "target": RATIO_TARGET,
        "peak_gpu_memory_mib": memory.peak_mib, "gpu_memory_before_mib": memory.baseline_mib,
        "scene": f"{len(scene)} years of {height} x {width} px",
    }


def map_workload(device: str, sites: int, model_name: str, work: Path) -> dict:
    """Generated sites x 10 years mapped one after another (the engine's automatic batch size);
    the first site is the warm-up, the rest the steady state that the extrapolation uses."""
    import rasterio

    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.inference import TileSettings
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.engine.scaling import ImageInput
    from euromine_qgis.core.maps.footprints import map_footprints
    from euromine_qgis.core.release import YEARS
    from export.synthetic import generate_sites

    start = time.perf_counter()
    folders = generate_sites(work / "sites", sites, seed=2024)
    generated = time.perf_counter() - start
    model = Model(resolve_bundled(model_name), device=device, scale=1.0)
    timings = []
    for folder in folders:
        images = [(y, folder / "image" / f"Year{y}.tif") for y in YEARS]
        with rasterio.open(images[0][1]) as src:
            pixels = src.height * src.width
        start = time.perf_counter()
        map_footprints(images, model, work / "maps" / folder.name,
                       threshold=0.5, settings=TileSettings(batch_size=0), temporal_filter="none", min_area_ha=0.0,
                       image_input=ImageInput(scale=1.0))
        timings.append((pixels * len(YEARS) / 1e6, time.perf_counter() - start))
    steady = timings[1:] or timings
    mpx, seconds = sum(m for m, _ in steady), sum(s for _, s in steady)
    per_site = seconds / len(steady)
    return {
        "model": model_name, "provider": model.provider, "sites": sites, "years": len(YEARS),
        "site_sizes": "the generator's: odd sides drawn in 91..419 px (export/synthetic.py)",
        "generation_seconds": round(generated, 1), "first_site_seconds": round(timings[0][1], 2),
        "steady_sites": len(steady), "steady_mpx_years": round(mpx, 2), "steady_seconds": round(seconds, 2),
        "seconds_per_site": round(per_site, 3), "mpx_years_per_s": round(mpx / seconds, 2),
        "all_133_sites_minutes": round(per_site * SITES_IN_EUROMINENET / 60, 2),
    }


def markdown(result: dict) -> str:
    """The Markdown table of one check (docs/performance.md takes it as it is)."""
    env, rows = result["environment"], []
    rows.append(f"Measured by `make gpu-check` on {env['date']}: {env['device']} "
                f"({env['gpu_memory_mib']} MiB), driver {env['driver']}, CUDA {env['cuda_driver_api']} "
                f"(onnxruntime built for {env['cuda_onnxruntime_build']}), cuDNN {env['cudnn']}, onnxruntime "
                f"{env['onnxruntime']} on {env['provider']}, Python {env['python']}, numpy {env['numpy']}, "
                f"rasterio {env['rasterio']} (GDAL {env['gdal']}).")
    if result["dry_run"]:
        rows.append("**CPU dry run**: not GPU figures; it proves the script end to end.")
    rows += ["", ("| model | best batch (auto) | engine Mpx-years/s | raw session.run Mpx-years/s | "
                  f"engine / raw (target >= {RATIO_TARGET}) | peak GPU memory MiB | sweep (batch: Mpx-years/s) |"),
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for b in result["benchmark"]:
        sweep = ", ".join(f"{k}: {v}" for k, v in b["sweep_mpx_years_per_s"].items())
        rows.append(f"| {b['model']} | {b['best_batch']} ({b['auto_batch']}) | {b['engine_mpx_years_per_s']} | "
                    f"{b['raw_mpx_years_per_s']} | {b['engine_over_raw']} | {b['peak_gpu_memory_mib']} | {sweep} |")
    w, t = result["workload"], result["tests"]
    counts = {k: sum(c["outcome"] in o for c in t["cases"])
              for k, o in (("passed", ("passed",)), ("failed", ("failure", "error")), ("skipped", ("skipped",)))}
    not_passed = "".join(f"; {c['test'].rsplit('::', 1)[-1]} {c['outcome']}: {c['detail']}"
                         for c in t["cases"] if c["outcome"] != "passed")
    workload = (f"Benchmark scene: {result['benchmark'][0]['scene']}. Workload: {w['sites']} generated sites x "
                f"{w['years']} years ({w['site_sizes']}) with {w['model']}: {w['mpx_years_per_s']} Mpx-years/s per "
                f"GPU in the steady state, {w['seconds_per_site']} s per site; all {SITES_IN_EUROMINENET} sites in "
                f"about {w['all_133_sites_minutes']} min.")
    tests = (f"GPU tests (pytest -m gpu): {counts['passed']} passed, {counts['failed']} failed, "
             f"{counts['skipped']} skipped{not_passed}. Whole check: {result['seconds']} s.")
    rows += ["", workload, "", tests]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the check; 0 when every GPU test passed, 1 when one did not, 2 when no GPU works."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for gpu_check.json, gpu_check.md and the test log")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="the same steps, smaller, on the CPU (no GPU figures)")
    parser.add_argument("--side", type=int, help="benchmark scene side in px (default 2000; dry run 256)")
    parser.add_argument("--sites", type=int, help="workload sites x 10 years (default 24; dry run 2)")
    parser.add_argument("--workload-model", default="unet_footprint")
    args = parser.parse_args(argv)
    use_wheel_proj_data()
    from euromine_qgis.core.engine.devices import CPU, CUDA, preload_gpu_libraries

    device = "cpu" if args.cpu_dry_run else "cuda"
    if not args.cpu_dry_run:
        from tests.gpu_support import cuda_problem

        problem = cuda_problem()
        if problem:
            print(f"gpu-check refused: no working GPU: {problem}", file=sys.stderr)
            return 2
        preload_gpu_libraries()
    side = args.side or (256 if args.cpu_dry_run else 2000)
    sites = args.sites or (2 if args.cpu_dry_run else 24)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    from euromine_qgis.core.engine.bundled import bundled_models
    from export.synthetic import generate_site

    result = {"dry_run": args.cpu_dry_run, "environment": versions(CPU if args.cpu_dry_run else CUDA)}
    result["tests"] = run_gpu_tests(args.out, required=not args.cpu_dry_run)
    verdict = "passed" if result["tests"]["ok"] else "FAILED"
    print(f"gpu-check: GPU tests {verdict} ({result['tests']['seconds']} s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="euromine-gpu-check-") as tmp:
        work = Path(tmp)
        years = (2020, 2021)
        site = generate_site(work, "Bench", seed=11, size=(side, side), years=years)
        scene = [(y, site / "image" / f"Year{y}.tif") for y in years]
        result["benchmark"] = []
        for bundled in bundled_models():
            result["benchmark"].append(bench_model(bundled, device, scene, work / "bench"))
            speed = result["benchmark"][-1]["engine_mpx_years_per_s"]
            print(f"gpu-check: {bundled.name}: {speed} Mpx-years/s", flush=True)
        result["workload"] = map_workload(device, sites, args.workload_model, work)
    result["seconds"] = round(time.perf_counter() - start, 1)
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if result["tests"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
