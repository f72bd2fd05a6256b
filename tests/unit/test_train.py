"""python -m export.train end to end on generated sites (tiny configurations), then export."""
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from euromine_qgis.core.engine.bundled import SYNTHETIC_LABEL  # noqa: E402
from euromine_qgis.core.engine.model import Model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # trains and exports models


def _train(data: Path, out: Path, arch: str, seed: int = 3, *extra: str) -> dict:
    command = [sys.executable, "-m", "export.train", "--arch", arch, "--width", "4", "--data", str(data),
               "--epochs", "1", "--samples-per-epoch", "4", "--batch-size", "2", "--patch", "64",
               "--years", "2015-2017", "--seed", str(seed), "--threads", "1", "--out", str(out), *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "epoch 1:" in done.stderr
    return torch.load(out, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def unet_checkpoint(sites, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "unet.pt"
    return out, _train(sites[0].parent, out, "unet")


def test_checkpoint_records_what_was_trained(unet_checkpoint):
    _, ck = unet_checkpoint
    assert ck["arch"] == "unet" and ck["task"] == "footprint" and ck["synthetic"] is True
    assert set(ck["train_sites"]).isdisjoint(ck["val_sites"]) and ck["val_sites"]
    for key in ("f1", "iou", "tiou", "ciou", "ca_tiou"):
        assert ck["validation"][key] is None or 0.0 <= ck["validation"][key] <= 1.0
    assert ck["validation"]["f1"] is not None and ck["command"].startswith("python -m export.train --arch unet")


def test_same_seed_same_weights(unet_checkpoint, sites, tmp_path):
    _, first = unet_checkpoint
    again = _train(sites[0].parent, tmp_path / "again.pt", "unet")
    for name, tensor in first["state_dict"].items():
        assert torch.equal(tensor, again["state_dict"][name]), name
    assert again["validation"] == first["validation"]


@pytest.fixture(scope="module")
def unet_onnx(unet_checkpoint, tmp_path_factory) -> Path:
    """The checkpoint exported by `python -m export.onnx --checkpoint` (the export the next two tests check)."""
    path, _ = unet_checkpoint
    onnx_path = tmp_path_factory.mktemp("export") / "unet_tiny.onnx"
    done = subprocess.run([sys.executable, "-m", "export.onnx", "--checkpoint", str(path), "--out", str(onnx_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return onnx_path


def test_checkpoint_exports_and_runs_in_the_plugin_engine(unet_onnx):
    model = Model(unet_onnx, device="cpu", scale=1.0)
    assert model.info.task == "footprint" and model.info.synthetic and SYNTHETIC_LABEL in model.info.trained_on
    assert SYNTHETIC_LABEL in model.description


def test_validation_scores_are_the_engines_scores_of_the_export(unet_checkpoint, unet_onnx, sites):
    """The checkpoint's validation (the PyTorch module behind the engine) equals what the plugin's
    engine measures on the exported ONNX file over the same sites and years."""
    from export.data import training_sites
    from export.site_scores import score_sites

    _, ck = unet_checkpoint
    model = Model(unet_onnx, device="cpu", scale=1.0)
    val_sites = training_sites(sites[0].parent, names=ck["val_sites"], years=(2015, 2016, 2017))
    measured = score_sites(model, val_sites)["micro"]
    assert set(measured) <= set(ck["validation"])
    for key, value in measured.items():
        assert ck["validation"][key] == pytest.approx(value, abs=1e-4), key


@pytest.mark.parametrize("arch, init", [("utae", True), ("fc_siam_diff", False)])
def test_series_and_change_training_runs(sites, unet_checkpoint, tmp_path, arch, init):
    extra = ["--init", str(unet_checkpoint[0])] if init else []
    ck = _train(sites[0].parent, tmp_path / f"{arch}.pt", arch, 3, *extra)
    assert ck["task"] == ("footprint_series" if arch == "utae" else "change")
    assert ck["validation"]["f1"] is None or 0.0 <= ck["validation"]["f1"] <= 1.0
    if init:
        assert ck["init"] == str(unet_checkpoint[0])
    else:
        assert "change_f1_annual" in ck["validation"]


def test_warm_start_makes_the_series_model_the_per_year_model(unet_checkpoint):
    """U-TAE's temporal layers start as the identity, so warm-started from the U-Net it maps every
    year exactly as the U-Net does, before any series training."""
    from export import architectures
    from export.train import warm_start

    path, ck = unet_checkpoint
    unet = architectures.get("unet").build(width=4)
    unet.load_state_dict(ck["state_dict"])
    series = architectures.get("utae").build(width=4)
    warm_start(series, path)
    x = torch.randn(2, 3, 10, 64, 64)
    with torch.no_grad():
        expected = unet.eval()(x.reshape(6, 10, 64, 64)).reshape(2, 3, 2, 64, 64)
        torch.testing.assert_close(series.eval()(x), expected, atol=1e-5, rtol=1e-5)


def test_a_job_that_cannot_run_raises_a_typed_error(tmp_path):
    from export.train import TrainConfig, TrainingError, train

    out = tmp_path / "unet.pt"
    for changes, message in (({"epochs": 0}, r"--epochs and --batch-size must be >= 1"),
                             ({"patch": 100}, r"--patch must be a multiple of \d+ for unet"),
                             ({"arch": "resnet"}, r"--arch: unknown architecture 'resnet'")):
        with pytest.raises(TrainingError, match=message):
            train(replace(TrainConfig("unet", tmp_path, out), **changes))
    assert not out.exists()


def test_the_command_line_reports_a_failed_job_and_exits_2(tmp_path, caplog):
    from export.train import main

    assert main(["--arch", "unet", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "u.pt")]) == 2
    assert "none: data folder does not exist" in caplog.text
