"""models.json's registry (core/engine/model_registry.py): the committed file read and rewritten to
the same bytes, typed errors naming the file and the key, add or replace by name."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from euromine_qgis.core.engine.bundled import MODELS_DIR, bundled_models
from euromine_qgis.core.engine.change_routes import recorded_routes
from euromine_qgis.core.engine.model_registry import (
    SYNTHETIC_LABEL,
    find_model,
    read_models,
    register_model,
    write_models,
)
from euromine_qgis.core.errors import ModelError

COMMITTED = MODELS_DIR / "models.json"


def _entry(file: str, name: str = "m", **extra: object) -> dict:
    entry = {
        "name": name, "file": file, "task": "footprint", "architecture": "test",
        "display_name": "Test", "trained_on": "nothing", "synthetic_training": False,
        "license": "MIT", "version": "1.0.0", "description": "a test entry",
        "provenance": {"command": "pytest", "seed": None, "torch": "none", "onnx_opset": 17, "exporter": "test"},
    }
    entry.update(extra)
    return entry


def _committed_copy(tmp_path: Path, change: object = None) -> Path:
    """A models folder whose models.json is the committed one (entries passed through ``change``)."""
    data = json.loads(COMMITTED.read_text(encoding="utf-8"))
    if change is not None:
        change(data["models"])
    (tmp_path / "models.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def test_the_committed_file_is_rewritten_to_the_same_bytes(tmp_path: Path) -> None:
    entries = read_models(MODELS_DIR)
    assert write_models(tmp_path, entries) == tmp_path / "models.json"
    assert (tmp_path / "models.json").read_bytes() == COMMITTED.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["models.json"]  # no temporary file left


def test_the_committed_entries_are_typed() -> None:
    entries = {e.name: e for e in read_models(MODELS_DIR)}
    assert [m.name for m in bundled_models()] == list(entries)
    unet = entries["unet_footprint"]
    assert unet.file == MODELS_DIR / "unet_footprint.onnx" and unet.task == "footprint"
    assert unet.synthetic_training is True and unet.label == f"{unet.display_name} [unet_footprint] — {SYNTHETIC_LABEL}"
    assert unet.provenance.receptive_field is not None and unet.provenance.receptive_field.alignment >= 1
    int8 = unet.variants["int8"]
    assert int8.file == MODELS_DIR / "unet_footprint.int8.onnx" and int8.label == "unet_footprint int8"
    assert int8.sha256 == hashlib.sha256(int8.file.read_bytes()).hexdigest()
    assert entries["spectral_baseline"].provenance.seed is None and not entries["spectral_baseline"].synthetic_training
    assert recorded_routes() == entries["fc_siam_diff_change"].change_routes


@pytest.mark.parametrize("change, message", [
    (lambda models: models[1].pop("license"), r"model 'spectral_baseline' lacks license$"),
    (lambda models: models[0]["provenance"].pop("seed"), r"model 'fc_siam_diff_change' lacks provenance.seed$"),
    (lambda models: models[1].update(provenance="made"),
     r"model 'spectral_baseline' 'provenance' must be an object, not \"made\""),
    (lambda models: models[2].update(synthetic_training="yes"),
     r"model 'unet_footprint' 'synthetic_training' must be true or false, not \"yes\""),
    (lambda models: models[2].update(size_bytes=True), r"model 'unet_footprint' 'size_bytes' must be a whole number"),
    (lambda models: models[3].update(file="../utae_series.onnx"),
     r"model 'utae_series' 'file' must be a file name in the models folder, not '../utae_series.onnx'"),
    (lambda models: models[3].update(task="segmentation"), r"model 'utae_series' has task 'segmentation'; tasks: "),
    (lambda models: models[0]["variants"]["int8"].pop("sha256"),
     r"model 'fc_siam_diff_change' variant 'int8' lacks sha256$"),
    (lambda models: models.append(dict(models[0])), r"model 'fc_siam_diff_change' is listed twice"),
    (lambda models: models.insert(0, ["not", "an", "object"]), r"entry 1 must be an object"),
], ids=["key", "provenance-key", "provenance", "flag", "count", "file", "task", "variant", "twice", "object"])
def test_a_malformed_entry_names_the_file_and_the_key(tmp_path: Path, change, message) -> None:
    folder = _committed_copy(tmp_path, change)
    with pytest.raises(ModelError, match=rf"^{re.escape(str(tmp_path / 'models.json'))}: {message}"):
        read_models(folder)


@pytest.mark.parametrize("text, problem", [
    (None, r"No such file"),
    ("{", r"Expecting"),
    ('{"model": []}', r"no \"models\" list at the top"),
], ids=["missing", "not-json", "no-list"])
def test_an_unreadable_file_names_the_file(tmp_path: Path, text: str | None, problem: str) -> None:
    if text is not None:
        (tmp_path / "models.json").write_text(text, encoding="utf-8")
    index = re.escape(str(tmp_path / "models.json"))
    with pytest.raises(ModelError, match=rf"^{index}: cannot read the bundled model list \(.*{problem}"):
        read_models(tmp_path)
    with pytest.raises(ModelError, match="cannot read the bundled model list"):
        bundled_models(tmp_path)


def test_register_adds_and_replaces_by_name_with_checksums(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"a model")
    (tmp_path / "z.onnx").write_bytes(b"another model")
    register_model(tmp_path, _entry("z.onnx", name="zzz"))
    added = register_model(tmp_path, _entry("m.onnx"))
    first = (tmp_path / "models.json").read_bytes()
    register_model(tmp_path, _entry("m.onnx"))
    assert (tmp_path / "models.json").read_bytes() == first

    assert added.sha256 == hashlib.sha256(b"a model").hexdigest() and added.size_bytes == len(b"a model")
    models = json.loads(first)["models"]
    assert [m["name"] for m in models] == ["m", "zzz"]
    assert models[1]["sha256"] == hashlib.sha256(b"another model").hexdigest()
    assert models[1]["size_bytes"] == len(b"another model")

    register_model(tmp_path, dict(find_model(tmp_path, "m").record, description="replaced"))
    assert [(e.name, e.description) for e in read_models(tmp_path)] == [("m", "replaced"), ("zzz", "a test entry")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "models.json", "z.onnx"]


def test_register_refuses_an_incomplete_entry_or_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"x")
    index = tmp_path / "models.json"
    at = re.escape(str(index))
    with pytest.raises(ModelError, match=rf"^{at}: entry 'm' lacks license, provenance.torch$"):
        register_model(tmp_path, dict({k: v for k, v in _entry("m.onnx").items() if k != "license"},
                                      provenance={"command": "c", "seed": 0, "onnx_opset": 17, "exporter": "e"}))
    folder = re.escape(str(tmp_path))
    with pytest.raises(ModelError, match=rf"^{at}: 'm2.onnx' must be the name of a file in {folder}$"):
        register_model(tmp_path, _entry("m2.onnx"))
    with pytest.raises(ModelError, match=rf"^{at}: model 'm' 'version' must be text, not 1"):
        register_model(tmp_path, _entry("m.onnx", version=1))
    assert not index.exists()


def test_find_model_names_the_file(tmp_path: Path) -> None:
    shutil.copy(COMMITTED, tmp_path)
    assert find_model(tmp_path, "utae_series").task == "footprint_series"
    with pytest.raises(ModelError, match=rf"^{re.escape(str(tmp_path / 'models.json'))} has no model named 'nope'$"):
        find_model(tmp_path, "nope")
