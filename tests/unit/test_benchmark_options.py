"""The benchmark's choices without training: which architectures and sites it takes, the leaderboard's
ranking, which PyTorch build `make env` installs, and --device cuda refused where torch has no GPU."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from export import architectures  # noqa: E402
from export.benchmark import parse_args, selected_architectures, split_sites, train_config  # noqa: E402
from export.data import DataError  # noqa: E402
from export.leaderboard import below_bar, markdown, ranked  # noqa: E402
from export.synthetic import generate_sites  # noqa: E402
from export.train import cuda_problem  # noqa: E402
from export.train import parse_args as train_arguments  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import torch_build  # noqa: E402

needs_no_gpu = pytest.mark.skipif(cuda_problem() is None, reason="torch trains on a GPU here: nothing to refuse")


def test_architectures_by_name_and_task():
    every = sorted(architectures.ARCHITECTURES)
    assert selected_architectures("all", "footprint,change,series") == every
    series = [a for a in every if architectures.get(a).task == "footprint_series"]
    assert selected_architectures("all", "series") == series
    assert selected_architectures("bit, unet", "footprint,change") == ["bit", "unet"]
    assert selected_architectures("bit,unet", "footprint") == ["unet"]
    with pytest.raises(ValueError, match="--archs 'unet,resnet': unknown resnet; known: all, a2net"):
        selected_architectures("unet,resnet", "footprint")
    with pytest.raises(ValueError, match="--tasks 'segmentation': unknown segmentation"):
        selected_architectures("all", "segmentation")


def test_generated_sites_split_three_ways(tmp_path):
    generate_sites(tmp_path / "sites", 11, seed=1, size=(33, 35), years=(2015,))
    splits = split_sites(tmp_path / "sites")
    names = {k: [s.name for s in v] for k, v in splits.items()}
    assert names["test"] == ["Synthetic_3", "Synthetic_8"]  # every fifth by name: _1, _10, _11, _2, _3, ... _7, _8
    assert len(names["val"]) == 1 and len(names["train"]) == 8
    assert sorted(sum(names.values(), [])) == sorted(f"Synthetic_{i}" for i in range(1, 12))
    generate_sites(tmp_path / "two", 2, seed=1, size=(33, 35), years=(2015,))
    with pytest.raises(DataError, match="2 site\\(s\\); the benchmark needs at least three"):
        split_sites(tmp_path / "two")


def test_bad_options_are_refused(capsys):
    for argv, message in ((["--archs", "resnet"], "unknown resnet"), (["--epochs", "0"], "--epochs must be >= 1"),
                          (["--years", "2015-20x"], "2015-20x")):
        with pytest.raises(SystemExit):
            parse_args(["--data", "sites", *argv])
        assert message in capsys.readouterr().err


def test_an_architecture_trains_under_its_own_recipe(tmp_path):
    args = parse_args(["--data", "sites", "--epochs", "2", "--samples-per-epoch", "256", "--threads", "2",
                       "--recipe", "bit:epochs=4,samples-per-epoch=640,lr=5e-4"])
    dirs = {"train": tmp_path / "train", "val": tmp_path / "val"}
    bit = train_config("bit", dirs, tmp_path / "bit.pt", args)
    unet = train_config("unet", dirs, tmp_path / "unet.pt", args)
    assert (bit.epochs, bit.samples_per_epoch, bit.lr, bit.threads) == (4, 640, 5e-4, 2)
    assert (unet.epochs, unet.samples_per_epoch, unet.lr, unet.threads) == (2, 256, 2e-3, 2)
    assert bit.val_data == tmp_path / "val" and bit.out == tmp_path / "bit.pt"
    assert train_arguments(shlex.split(bit.command())[3:]) == bit  # the recorded command runs the same job


def test_bad_recipes_are_refused(capsys):
    for recipe, message in (("resnet:epochs=2", "unknown architecture 'resnet'"),
                            ("bit:steps=2", "unknown option 'steps'; known: epochs, samples-per-epoch"),
                            ("bit:lr=fast", "lr 'fast' is not a number"),
                            ("bit:epochs=0", "epochs must be positive"),
                            ("bit:", "no OPT=VALUE after 'bit:'")):
        with pytest.raises(SystemExit):
            parse_args(["--data", "sites", "--recipe", recipe])
        assert f"--recipe '{recipe}': {message}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--data", "sites", "--recipe", "bit:epochs=2", "--recipe", "bit:lr=1e-3"])
    assert "bit has a recipe already" in capsys.readouterr().err


def test_ranking_within_each_task_failures_last():
    rows = [{"model": "a", "task": "footprint", "status": "ok", "ca_tiou": 0.4},
            {"model": "b", "task": "footprint", "status": "ok", "ca_tiou": None},
            {"model": "c", "task": "change", "status": "ok", "change_f1_all": 0.2},
            {"model": "d", "task": "footprint", "status": "ok", "ca_tiou": 0.6},
            {"model": "e", "task": "change", "status": "failed", "error": "x"}]
    assert [(r["model"], r["rank"]) for r in ranked(rows)] == [("d", 1), ("a", 2), ("b", 3), ("c", 1), ("e", None)]


def test_reference_rows_are_unranked_bars():
    rows = [{"model": "a", "task": "footprint", "status": "ok", "ca_tiou": 0.1, "iou": 0.6},
            {"model": "b", "task": "footprint", "status": "ok", "ca_tiou": 0.5, "iou": 0.3},
            {"model": "s", "task": "footprint_series", "status": "ok", "ca_tiou": 0.5, "iou": 0.4},
            {"model": "base", "task": "footprint", "status": "ok", "ca_tiou": 0.9, "iou": 0.4, "baseline": True},
            {"model": "c", "task": "change", "status": "ok", "change_f1_all": None},
            {"model": "d", "task": "change", "status": "ok", "change_f1_all": 0.5}]
    out = ranked(rows)
    assert [(r["model"], r["rank"]) for r in out] == [("b", 1), ("a", 2), ("base", None), ("s", 1), ("d", 1), ("c", 2)]
    assert below_bar(out, "footprint") == "Bar: base's footprint IoU, 0.4000; models at or below it: b."
    assert below_bar(out, "footprint_series").endswith("models at or below it: s.")  # the footprint bar, tied
    assert below_bar(out, "change") is None  # no change reference row
    text = markdown(out, "T")
    assert "| ref | base (reference) |" in text and "| 1 | b |" in text
    bar = {"model": "pc", "task": "change", "status": "ok", "change_f1_all": 0.3, "baseline": True}
    assert below_bar(ranked([*rows, bar]), "change").endswith("models at or below it: c.")


def test_torch_build_choice():
    assert torch_build.wanted_build("auto", None) == "cpu"
    assert torch_build.wanted_build("auto", "NVIDIA H100 80GB HBM3") == "cuda"
    assert torch_build.wanted_build("cuda", None) == "cuda" and torch_build.wanted_build("cpu", "NVIDIA H100") == "cpu"
    with pytest.raises(ValueError, match="TORCH=gpu: expected one of auto, cpu, cuda"):
        torch_build.wanted_build("gpu", None)
    assert [torch_build.installed_build(v) for v in ("2.13.0+cpu", "2.13.0+cu130", "2.13.0", None)] == \
        ["cpu", "cuda", "cuda", None]
    version = torch_build.pinned_version()
    assert torch.__version__.startswith(version)
    assert f"torch=={version}+cu130" in torch_build.pip_arguments("cuda", version)
    assert f"torch=={version}+cpu" in torch_build.pip_arguments("cpu", version)


def test_torch_build_prints_its_choice():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "torch_build.py"), "--request", "cpu"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "torch: CPU build (TORCH=cpu)\n"


@needs_no_gpu
def test_train_refuses_cuda_without_a_gpu(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        train_arguments(["--arch", "unet", "--data", str(tmp_path), "--device", "cuda",
                         "--out", str(tmp_path / "u.pt")])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"python -m export.train: error: --device cuda: {cuda_problem()}"
    assert not (tmp_path / "u.pt").exists()


@needs_no_gpu
def test_benchmark_refuses_cuda_without_a_gpu(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", "sites", "--device", "cuda"])
    assert f"--device cuda: {cuda_problem()}" in capsys.readouterr().err
