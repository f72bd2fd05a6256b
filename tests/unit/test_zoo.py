"""The bundled model zoo: files, labels and held-out metrics in models.json, and the command that
measures them (python -m export.zoo) run on a small generated site."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from euromine_qgis.core.engine.bundled import SYNTHETIC_LABEL, bundled_models, resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.model_cards import cards_page

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models_onnx"
ENTRIES = {m["name"]: m for m in json.loads((MODELS / "models.json").read_text())["models"]}


def test_one_bundled_model_per_task_at_least():
    tasks = {m["task"] for m in ENTRIES.values()}
    assert tasks == {"footprint", "change", "footprint_series"}
    trained = [m for m in ENTRIES.values() if m["synthetic_training"]]
    assert {m["task"] for m in trained} == tasks


def test_the_plugin_finds_every_bundled_model():
    assert [m.name for m in bundled_models()] == list(ENTRIES)
    for name, entry in ENTRIES.items():
        assert resolve_bundled(name).samefile(MODELS / entry["file"])


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entry_is_complete_and_labelled(name):
    entry = ENTRIES[name]
    assert entry["size_bytes"] <= 25 * 2**20
    model = Model(MODELS / entry["file"], device="cpu", scale=1.0)
    assert model.info.task == entry["task"] and model.info.trained_on == entry["trained_on"]
    if entry["synthetic_training"]:
        assert SYNTHETIC_LABEL in entry["trained_on"] and model.info.synthetic
        assert entry["provenance"]["seed"] is not None and "export.train" in entry["provenance"]["command"]
    metrics = entry["metrics"]
    assert "held out" in metrics["heldout"] and metrics["command"].startswith("python -m export.zoo")
    card = (MODELS / "README.md").read_text()
    assert f"`{name}`" in card


def test_trained_models_beat_their_baselines_on_held_out_sites():
    baseline, unet, series = (ENTRIES[n]["metrics"]["micro"]
                              for n in ("spectral_baseline", "unet_footprint", "utae_series"))
    assert unet["iou"] >= baseline["iou"] + 0.2  # a clear margin
    assert series["ca_tiou"] > unet["ca_tiou"] and series["ciou"] > unet["ciou"]


def test_the_cards_page_shows_every_model_labelled_with_its_metrics():
    """The docs site's model cards (generated from models.json): one section per model, the
    synthetic-training warning on each model trained on synthetic sites, every held-out figure."""
    sections = {s.split("`")[1]: s for s in cards_page(bundled_models()).split("\n## ")[1:]}
    assert list(sections) == list(ENTRIES)
    for name, entry in ENTRIES.items():
        assert (f"**Warning: {SYNTHETIC_LABEL}.**" in sections[name]) == entry["synthetic_training"], name
        metrics = entry["metrics"]
        figures = [v for group in metrics.values() if isinstance(group, dict) for v in group.values()]
        figures += [v for v in metrics.values() if isinstance(v, float)]
        assert figures and all(f"| {v} |" in sections[name] for v in figures), name
        assert entry["sha256"] in sections[name] and metrics["command"] in sections[name]


@pytest.mark.slow
def test_zoo_measures_and_registers(sites, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    keep = {n: ENTRIES[n] for n in ("spectral_baseline", "fc_siam_diff_change")}
    for entry in keep.values():
        shutil.copy(MODELS / entry["file"], models)
    (models / "models.json").write_text(json.dumps({"models": list(keep.values())}))
    data = tmp_path / "held_out"
    data.mkdir()
    site = sites[0]  # smaller than a patch
    shutil.copytree(site, data / site.name)
    for year in range(2018, 2025):  # three years keep the 45 change pairs down to 3
        for kind in ("image", "label"):
            (data / site.name / kind / f"Year{year}.tif").unlink()
    for name in keep:
        done = subprocess.run([sys.executable, "-m", "export.zoo", "measure", name, "--test-data", str(data),
                               "--out", str(models)], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    measured = {m["name"]: m["metrics"] for m in json.loads((models / "models.json").read_text())["models"]}
    assert measured["spectral_baseline"]["heldout"].startswith("1 synthetic site generated")
    assert 0.0 <= measured["spectral_baseline"]["micro"]["iou"] <= 1.0
    assert set(measured["fc_siam_diff_change"]) >= {"change_f1_all", "change_f1_annual", "change_iou_all"}
