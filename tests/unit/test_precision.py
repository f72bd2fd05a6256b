"""PRECISION in the engine: siblings that must belong to their parent, fp16 refused on the CPU, the
measured ``auto`` choice and its cache, and int8 maps that agree with fp32 on held-out generated
sites, all on real onnxruntime sessions of the bundled files and their int8 siblings."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from euromine_qgis.core.engine.bundled import MODELS_DIR
from euromine_qgis.core.engine.model import TIMED_SIDE, Model
from euromine_qgis.core.engine.precision import (
    CACHE_ENV,
    CACHE_FILE,
    MIN_AGREEMENT,
    MIN_SPEEDUP,
    fastest,
    sibling_path,
)
from euromine_qgis.core.errors import ModelError
from export.site_scores import map_scene

INDEX = {m["name"]: m for m in json.loads((MODELS_DIR / "models.json").read_text(encoding="utf-8"))["models"]}
WITH_INT8 = sorted(name for name, entry in INDEX.items() if "int8" in entry.get("variants", {}))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder / CACHE_FILE


@pytest.fixture
def baseline(tmp_path) -> Path:
    """The bundled spectral baseline and its int8 sibling, copied (small and fast to time)."""
    for name in ("spectral_baseline.onnx", "spectral_baseline.int8.onnx"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    return tmp_path / "spectral_baseline.onnx"


def test_a_reduced_precision_must_beat_fp32_by_the_margin():
    assert fastest({"fp32": 1.0, "int8": 1.0}) == "fp32"
    assert fastest({"fp32": 1.0, "int8": 1.0 / (MIN_SPEEDUP * 0.99)}) == "fp32"
    assert fastest({"fp32": 1.0, "int8": 0.8}) == "int8"
    assert fastest({"fp32": 1.0, "int8": 0.8, "fp16": 0.5}) == "fp16"


def test_auto_measures_once_then_uses_the_cache_and_remeasures_a_corrupt_one(baseline, cache):
    first = Model(baseline, device="cpu", precision="auto", scale=1.0)
    assert first.precision_reason.startswith("measured: fp32 1.00×, int8 ")
    entry = next(iter(json.loads(cache.read_text()).values()))
    assert entry["candidates"] == ["fp32", "int8"]
    assert entry["precision"] == first.precision == fastest(entry["seconds_per_tile"])
    assert first.path.name == ("spectral_baseline.int8.onnx" if first.precision == "int8" else baseline.name)

    second = Model(baseline, device="cpu", precision="auto", scale=1.0)
    assert second.precision == first.precision
    assert second.precision_reason == f"cached from {entry['measured']}: {entry['speeds']}"

    cache.write_text("{not json")
    assert Model(baseline, device="cpu", precision="auto", scale=1.0).precision_reason.startswith("measured: ")
    assert json.loads(cache.read_text())  # rewritten whole


# A child process opens a model with PRECISION=auto and prints its peak RSS (kB) and the verdict. The
# peak is VmHWM, the child's own: Linux keeps ru_maxrss across exec, so a child of this pytest
# process would report pytest's peak whenever that is the larger.
OPEN_AUTO = """
import sys
from euromine_qgis.core.engine.model import Model
model = Model(sys.argv[1], device="cpu", precision="auto", scale=1.0)
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(peak, model.precision_reason)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads VmHWM from Linux's /proc")
def test_auto_first_use_costs_little_memory_and_few_timed_pixels(tmp_path):
    """The U-Net's first auto use against a child with the verdict cached: at most 100 MB more peak
    RSS (timing its full-size default tiles took 1.2 GB) and a bounded count of timed pixels."""
    for name in ("unet_footprint.onnx", "unet_footprint.int8.onnx"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", OPEN_AUTO, str(tmp_path / "unet_footprint.onnx")], env=env,
                           cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=True)
            .stdout.split(" ", 1) for _ in range(2)]
    (first_kb, first_reason), (cached_kb, cached_reason) = runs
    assert first_reason.startswith("measured: ") and cached_reason.startswith("cached from ")
    assert int(first_kb) - int(cached_kb) <= 100 * 1024
    entry = next(iter(json.loads((tmp_path / "cache" / CACHE_FILE).read_text()).values()))
    timed = entry["timed"]
    assert timed["tile_side"] <= TIMED_SIDE
    # every run the timer made, side-finding runs included: 2 candidates x (1 warm-up + at most 5
    # timed runs) of one tile of at most 256 px, under a quarter of one default U-Net tile
    assert timed["pixels"] <= len(entry["candidates"]) * 6 * TIMED_SIDE**2 + 2 * 64**2


def test_auto_without_a_sibling_runs_fp32_without_timing(conv_onnx, cache):
    model = Model(conv_onnx, device="cpu", precision="auto", scale=1.0)
    assert (model.precision, model.path) == ("fp32", conv_onnx)
    assert "only candidate" in model.precision_reason
    assert not cache.exists()


def test_explicit_int8_opens_the_sibling(baseline):
    model = Model(baseline, device="cpu", precision="int8", scale=1.0)
    assert model.path == sibling_path(baseline, "int8") and model.precision == "int8"
    assert "(spectral_baseline.int8.onnx, int8)" in model.description
    by_name = Model(model.path, device="cpu", scale=1.0)  # as a Dask worker opens the file its client chose
    assert (by_name.precision, by_name.precision_reason) == ("int8", "the file spectral_baseline.int8.onnx is the "
                                                                     "int8 sibling")


def test_int8_without_a_sibling_names_the_missing_file_and_the_command(conv_onnx):
    with pytest.raises(ModelError, match=r"conv\.int8\.onnx: PRECISION=int8 needs .*python -m export\.quantize"):
        Model(conv_onnx, device="cpu", precision="int8", scale=1.0)


def test_a_sibling_of_another_model_is_refused(tmp_path):
    parent = shutil.copy(MODELS_DIR / "unet_footprint.onnx", tmp_path / "unet_footprint.onnx")
    shutil.copy(MODELS_DIR / "spectral_baseline.int8.onnx", tmp_path / "unet_footprint.int8.onnx")
    with pytest.raises(ModelError, match=r"unet_footprint\.int8\.onnx: made from another model"):
        Model(parent, device="cpu", precision="int8", scale=1.0)
    auto = Model(parent, device="cpu", precision="auto", scale=1.0)  # a stale sibling does not stop a default run
    assert (auto.precision, auto.path) == ("fp32", parent)
    assert "only candidate" in auto.precision_reason and "unet_footprint.int8.onnx: made from another model" \
        in auto.precision_reason


def test_fp16_on_the_cpu_is_an_error_naming_the_provider(baseline):
    with pytest.raises(ModelError, match=r"PRECISION=fp16 needs CUDAExecutionProvider or TensorrtExecutionProvider; "
                                         r"this run has CPUExecutionProvider"):
        Model(baseline, device="cpu", precision="fp16", scale=1.0)


def test_unknown_precision_is_an_error(baseline):
    with pytest.raises(ModelError, match="unknown precision 'int4'"):
        Model(baseline, device="cpu", precision="int4", scale=1.0)


@pytest.fixture(scope="module")
def heldout_site(tmp_path_factory) -> Path:
    """A generated site of the zoo's held-out seed (3000), which no bundled model was trained on."""
    from export.synthetic import generate_sites

    return generate_sites(tmp_path_factory.mktemp("heldout"), 2, seed=3000)[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_INT8)
def test_int8_maps_agree_with_fp32_on_a_heldout_site(heldout_site, name):
    """The engine's maps (tiling, blending, threshold 0.5) of the int8 sibling against fp32."""
    parent = MODELS_DIR / INDEX[name]["file"]
    years = sorted(heldout_site.joinpath("image").glob("Year*.tif"))
    images = years if INDEX[name]["task"] == "footprint_series" else years[:2]
    fp32, int8 = (Model(parent, device="cpu", precision=p, scale=1.0) for p in ("fp32", "int8"))
    if INDEX[name]["task"] in ("footprint_series", "change"):  # every year at once; a change model: the pair
        (p32, valid), (p8, _) = map_scene(fp32, images), map_scene(int8, images)
    else:
        pairs = [(map_scene(fp32, [i]), map_scene(int8, [i])) for i in images]
        p32, p8, valid = (np.stack(x) for x in zip(*[(a[0], b[0], a[1]) for a, b in pairs], strict=True))
    agreement = np.mean((p32 > 0.5)[valid] == (p8 > 0.5)[valid])
    assert agreement >= MIN_AGREEMENT, f"{name}: int8 agrees with fp32 on {agreement:.4%} of valid pixels"


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_export_quantize_writes_a_sibling_that_belongs_to_its_parent(sites, tmp_path, precision):
    from euromine_qgis.core.io.checksum import sha256_of
    from export.data import training_sites
    from export.quantize import write_sibling

    parent = Path(shutil.copy(MODELS_DIR / "unet_footprint.onnx", tmp_path / "unet_footprint.onnx"))
    calibration = training_sites(sites[0].parent)
    path, record = write_sibling(parent, precision, calibration, calibration, "test", calibration_samples=8,
                                 check_samples=4)
    assert path == sibling_path(parent, precision)
    assert record["parent_sha256"] == sha256_of(parent) and record["argmax_agreement"] >= MIN_AGREEMENT
    if precision == "int8":
        assert Model(parent, device="cpu", precision="int8", scale=1.0).path == path


def test_export_quantize_refuses_a_sibling_below_the_agreement_bound(sites, tmp_path):
    """Four calibration patches are too few for the spectral baseline's index rules."""
    from export.data import training_sites
    from export.quantize import QuantizeError, write_sibling

    parent = Path(shutil.copy(MODELS_DIR / "spectral_baseline.onnx", tmp_path / "spectral_baseline.onnx"))
    calibration = training_sites(sites[0].parent)
    with pytest.raises(QuantizeError, match=rf"argmax agreement with spectral_baseline.onnx is 0\.\d+ on 4 check "
                                            rf"patches, below {MIN_AGREEMENT}; not written"):
        write_sibling(parent, "int8", calibration, calibration, "test", calibration_samples=4, check_samples=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spectral_baseline.onnx"]


def test_verify_checks_every_sibling(tmp_path, capsys):
    from export.onnx import main

    folder = Path(shutil.copytree(MODELS_DIR, tmp_path / "models", ignore=shutil.ignore_patterns("*.md")))
    assert main(["--verify", str(folder)]) == 0
    with (folder / "unet_footprint.int8.onnx").open("ab") as damaged:
        damaged.write(b"\0")
    assert main(["--verify", str(folder)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "FAIL unet_footprint int8 (unet_footprint.int8.onnx)" in lines
    assert "ok   utae_series int8 (utae_series.int8.onnx)" in lines
