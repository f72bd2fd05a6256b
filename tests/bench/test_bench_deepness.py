"""`make bench`: EuroMine side by side with the Deepness QGIS plugin 0.6.5, and EuroMine's scaling
with onnxruntime's intra-op threads, printed as figures (and rows of docs/performance.md) from one run.

Both tools map one 2000² 10-band int16 generated scene with the bundled U-Net: EuroMine with the
ONNX file as bundled, Deepness with a copy carrying its metadata, a fixed 160² input and a
one-channel probability head (deepness_model.py). Deepness (unpacked under build/ from its tarball,
never copied into the project) runs in its own venv, build/deepness-venv, with EuroMine's
onnxruntime version. Every measurement is one fresh process (side_by_side.py), EuroMine and Deepness
interleaved; each figure is the median of 3. Deepness assumes square pixels in the layer's units and
the generated site is in EPSG:4326, so both tools read one copy of its pixels on a 10 m UTM grid.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
from rasterio.transform import from_origin

from euromine_qgis.core.engine import hardware
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from export.synthetic import generate_site
from tests.bench.deepness_model import deepness_copy
from tests.bench.test_bench_engine import report
from tests.unit.test_receptive_field import whole_scene

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
TARBALL = REPO.parent / "shared" / "peers" / "qgis-plugin-deepness-0.6.5.tar.gz"
DEEPNESS_SRC = BUILD / "deepness" / "qgis-plugin-deepness-0.6.5" / "src"
VENV = BUILD / "deepness-venv"
# onnxruntime as EuroMine's; numpy and OpenCV within Deepness's own caps (its python_requirements)
DEEPNESS_REQUIREMENTS = (f"onnxruntime=={ort.__version__}", "opencv-python-headless<=4.9.0.80", "numpy<2")
DRIVER = Path(__file__).with_name("side_by_side.py")
SIDE, YEAR, PIXEL_M = 2000, 2020, 10
TILE, OVERLAP, BATCH = 160, 32, 4
REPEATS = 3
MODEL = "unet_footprint"


@dataclass(frozen=True)
class Tool:
    """One measured configuration: the label it is reported under and its side_by_side.py call."""

    label: str
    python: Path
    args: tuple[str, ...]


@dataclass(frozen=True)
class Figures:
    """Medians over the repeats, and the first repeat's mask."""

    setting: str
    seconds: float
    raw_seconds: float
    peak_mib: float
    mask: np.ndarray


def cpu_name() -> str:
    """The machine, as docs/performance.md names it: /proc/cpuinfo's model name and the core count."""
    with open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "unknown CPU")
    return f"{model}, {os.cpu_count()} cores"


# The /proc/cpuinfo flags int8 and fp32 speed depend on, as the benches name them
SPEED_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI",
               "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16"}
assert tuple(SPEED_FLAGS) == hardware.ISA_FLAGS, "a name for every flag hardware.cpu_flags reports"


def cpu_flags() -> str:
    """The speed flags this CPU reports (hardware.cpu_flags) as the benches name them, or 'none of AVX2, ...'."""
    found = [SPEED_FLAGS.get(flag, flag) for flag in hardware.cpu_flags()]
    return ", ".join(found) if found else "none of " + ", ".join(SPEED_FLAGS.values())


def run_checked(command: list[str], what: str) -> str:
    """stdout of ``command``; a failure shows the tail of its stderr."""
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def deepness_src() -> Path:
    """Deepness's src/ folder, unpacked under build/ from the peers' tarball."""
    if not TARBALL.is_file():
        print(f"\n== against Deepness\n   skipped: {TARBALL} is absent")
        pytest.skip(f"the Deepness tarball {TARBALL} is absent")
    if not DEEPNESS_SRC.is_dir():
        with tarfile.open(TARBALL) as tar:
            tar.extractall(DEEPNESS_SRC.parents[1])  # a trusted local copy (Debian 12 python: no filter)
    return DEEPNESS_SRC


@pytest.fixture(scope="module")
def deepness_python(deepness_src) -> Path:
    """The python of Deepness's own venv (made once, remade when its requirements change). Debian's
    python3 with its site packages: Deepness imports QGIS's python bindings."""
    stamp = VENV / "euromine-bench-requirements"
    if not stamp.is_file() or stamp.read_text() != "\n".join(DEEPNESS_REQUIREMENTS):
        shutil.rmtree(VENV, ignore_errors=True)
        run_checked(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(VENV)], "venv for Deepness")
        run_checked([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                     *DEEPNESS_REQUIREMENTS], "pip install for Deepness")
        stamp.write_text("\n".join(DEEPNESS_REQUIREMENTS))
    return VENV / "bin" / "python"


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """One generated 2000² 10-band int16 year, its pixels on a square 10 m UTM grid."""
    return utm_scene(tmp_path_factory.mktemp("deepness"))


def utm_scene(work: Path) -> Path:
    """``work/scene.tif``: a generated SIDE² 10-band int16 year, its pixels on a square 10 m UTM grid."""
    site = generate_site(work, "Bench", seed=11, size=(SIDE, SIDE), years=(YEAR,))
    with rasterio.open(site / "image" / f"Year{YEAR}.tif") as src:
        profile, pixels = src.profile, src.read()
    profile.update(crs="EPSG:32632", transform=from_origin(500_000, 4_520_000, PIXEL_M, PIXEL_M))
    out = work / "scene.tif"
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(pixels)
    return out


@pytest.fixture(scope="module")
def reference(scene) -> np.ndarray:
    """Whole-scene inference's mining probability (NaN where not valid): the model run once on the
    reflect-padded scene."""
    return whole_scene(Model(resolve_bundled(MODEL), device="cpu", scale=1.0), [scene])[0]


def euromine(label: str, *options: str) -> Tool:
    """EuroMine in this venv, with side_by_side.py's ``options``."""
    return Tool(label, Path(sys.executable), ("euromine", *options))


def measure(tools: list[Tool], scene: Path, model: dict[str, Path], work: Path) -> dict[str, Figures]:
    """Each tool REPEATS times, each time in a fresh process, the tools interleaved; medians."""
    runs: dict[str, list[dict]] = {t.label: [] for t in tools}
    for repeat in range(REPEATS):
        for tool in tools:
            out = work / f"{tool.label}_{repeat}".replace(" ", "_").replace(",", "")
            name, *options = tool.args
            stdout = run_checked([str(tool.python), str(DRIVER), name, str(scene), str(model[name]), str(out),
                                  *options], tool.label)
            runs[tool.label].append(dict(json.loads(stdout.strip().splitlines()[-1]), out=out))
    return {label: Figures(
        setting=r[0]["setting"],
        seconds=statistics.median(x["seconds"] for x in r),
        raw_seconds=statistics.median(x["raw_seconds"] for x in r),
        peak_mib=statistics.median(x["peak_kib"] for x in r) / 1024,
        mask=np.load(r[0]["out"] / "mask.npy"),
    ) for label, r in runs.items()}


def iou(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> float:
    """Intersection over union of two boolean masks over the ``valid`` pixels."""
    return float((a & b & valid).sum() / ((a | b) & valid).sum())


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table, ready to paste into docs/performance.md."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def test_against_deepness(deepness_python, deepness_src, scene, reference, tmp_path):
    model = resolve_bundled(MODEL)
    matched = ("--tile", str(TILE), "--overlap", str(OVERLAP), "--batch", str(BATCH))
    copy = deepness_copy(model, tmp_path / f"{MODEL}_deepness.onnx", TILE, OVERLAP, PIXEL_M * 100)
    deepness = Tool("Deepness 0.6.5", deepness_python, ("deepness", *matched, "--deepness-src", str(deepness_src)))
    tools = [euromine("EuroMine, same tiles", *matched), deepness, euromine("EuroMine, defaults")]
    figures = measure(tools, scene, {"euromine": model, "deepness": copy}, tmp_path)

    theirs = figures[deepness.label]
    mining = {label: f.mask == 1 for label, f in figures.items()}
    valid = ~np.isnan(reference) & (figures[tools[0].label].mask != 255)
    whole = reference >= 0.5
    rows = [f"{label:22s} ({f.setting}): {f.seconds:6.2f} s, {f.seconds / theirs.seconds:.2f}x Deepness's time, "
            f"{f.seconds / f.raw_seconds:.2f}x raw session.run on its tiles ({f.raw_seconds:.2f} s), "
            f"peak {f.peak_mib:.0f} MiB, IoU with whole-scene inference {iou(mining[label], whole, valid):.3f}, "
            f"with Deepness's mask {iou(mining[label], mining[deepness.label], valid):.3f}"
            for label, f in figures.items()]
    markdown = table(["", *figures], [
        ["tiling", *(f.setting for f in figures.values())],
        ["time / Deepness's time", *(f"{f.seconds / theirs.seconds:.2f}×" for f in figures.values())],
        ["time / raw `session.run` on the same tiles",
         *(f"{f.seconds / f.raw_seconds:.2f}×" for f in figures.values())],
        ["raw `session.run` / Deepness's raw",
         *(f"{f.raw_seconds / theirs.raw_seconds:.2f}×" for f in figures.values())],
        ["peak memory (VmHWM)", *(f"{f.peak_mib:.0f} MiB" for f in figures.values())],
        ["mask IoU with whole-scene inference", *(f"{iou(m, whole, valid):.3f}" for m in mining.values())],
        ["mask IoU with Deepness's", *(f"{iou(m, mining[deepness.label], valid):.3f}" for m in mining.values())],
    ])
    # the default tiling follows the model's receptive field: it is whole-scene inference
    assert iou(mining[tools[2].label], whole, valid) > 0.999
    report(f"against Deepness 0.6.5, one {SIDE} x {SIDE} px 10-band int16 scene, {MODEL}, CPU, "
           f"medians of {REPEATS} fresh processes, on {cpu_name()}", rows + ["docs/performance.md rows:", *markdown])


def test_scaling_with_intra_op_threads(scene, tmp_path):
    """End to end over raw session.run with 1, 2, 4, 8 and 16 intra-op threads (as many as the
    machine has cores), EuroMine's default tiling. The engine has no thread setting: the driver
    sets onnxruntime's SessionOptions.intra_op_num_threads for every session of its process."""
    counts = [n for n in (1, 2, 4, 8, 16) if n <= (os.cpu_count() or 1)]
    tools = [euromine(f"{n} intra-op threads", "--threads", str(n)) for n in counts]
    figures = measure(tools, scene, {"euromine": resolve_bundled(MODEL)}, tmp_path)
    rows = [f"{label:18s} ({f.setting}): end to end {f.seconds:6.2f} s, raw session.run {f.raw_seconds:6.2f} s, "
            f"ratio {f.seconds / f.raw_seconds:.2f}" for label, f in figures.items()]
    markdown = table(["intra-op threads", "end to end / raw `session.run`"],
                     [[str(n), f"{f.seconds / f.raw_seconds:.2f}×"]
                      for n, f in zip(counts, figures.values(), strict=True)])
    report(f"EuroMine's scaling with onnxruntime intra-op threads, {SIDE} x {SIDE} px, {MODEL}, medians of "
           f"{REPEATS} fresh processes, on {cpu_name()}", rows + ["docs/performance.md rows:", *markdown])
