import json

import numpy as np
import pytest

from euromine_qgis.core.engine.contract import DEFAULTS, NORMALIZATION_FIELDS, TASK_TABLE, TASKS, ModelInfo
from euromine_qgis.core.engine.model import ORT_ERRORS, Model, NormalizationOverride
from euromine_qgis.core.errors import ModelError
from tests.onnx_factory import MEAN, STD, conv_model, metadata


def test_reads_metadata_contract(conv_onnx):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    assert model.info.name == "test_conv" and model.info.task == "footprint"
    assert model.info.bands[0] == "B2" and len(model.info.mean) == 10
    assert model.provider == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in model.description


def test_positive_probability_is_softmax_of_logits(conv_onnx):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    x = np.random.default_rng(1).normal(size=(2, 10, 17, 23)).astype(np.float32)
    logits = model.session.run(None, {"image": x})[0]
    expected = 1 / (1 + np.exp(logits[:, 0] - logits[:, 1]))
    np.testing.assert_allclose(model.positive_probability(x), expected, rtol=1e-5, atol=1e-6)


def test_normalize_uses_model_mean_std(conv_onnx):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    raw = np.array(MEAN, np.float32)[None, :, None, None] + np.array(STD, np.float32)[None, :, None, None]
    np.testing.assert_allclose(model.normalize(raw), 1.0, rtol=1e-6)


def test_not_onnx_names_the_file(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model")
    with pytest.raises(ModelError, match=r"notes.onnx: not a usable ONNX model") as error:
        Model(bad, device="cpu", scale=1.0)
    assert isinstance(error.value.__cause__, ORT_ERRORS)


def test_truncated_onnx_names_the_file(tmp_path, conv_onnx):
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(conv_onnx.read_bytes()[:200])
    with pytest.raises(ModelError, match=r"cut.onnx: not a usable ONNX model"):
        Model(cut, device="cpu", scale=1.0)


def test_a_run_onnxruntime_refuses_names_the_file(conv_onnx):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    with pytest.raises(ModelError, match=rf"{conv_onnx.name}: inference failed on CPUExecutionProvider \(") as error:
        model.positive_probability(np.zeros((1, 4, 16, 16), np.float32))  # 4 bands where the graph takes 10
    assert isinstance(error.value.__cause__, ORT_ERRORS)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match=r"nothing.onnx: model file does not exist"):
        Model(tmp_path / "nothing.onnx", device="auto", scale=1.0)


def test_model_without_metadata_needs_parameters(tmp_path):
    path = conv_model(tmp_path / "bare.onnx", meta={})
    with pytest.raises(ModelError, match=r"bare.onnx: the model carries no 'euromine' metadata.*BANDS, MEAN, STD"):
        Model(path, device="cpu", scale=1.0)
    override = NormalizationOverride(bands=tuple("abcdefghij"), mean=tuple(MEAN), std=tuple(STD))
    model = Model(path, device="cpu", override=override, scale=1.0)
    assert model.info.bands == tuple("abcdefghij") and model.info.name == "bare"


def test_metadata_band_count_must_match_input_channels(tmp_path):
    path = conv_model(tmp_path / "four.onnx", meta=metadata(bands=["B2", "B3", "B4", "B8"], mean=MEAN[:4], std=STD[:4]))
    with pytest.raises(ModelError, match=r"four.onnx: input .image. takes 10 channels "
                                         r"but the metadata.s 4 bands \(B2, B3, B4, B8\) make 4"):
        Model(path, device="cpu", scale=1.0)


@pytest.mark.parametrize("field, value, message", [
    ("task", "segmentation", "unknown task 'segmentation'"),
    ("output", "scores", "output must be 'logits' or 'probabilities'"),
    ("std", [0.0] * 10, "every std must be positive"),
    ("mean", [1.0] * 3, r"bands \(10\), mean \(3\) and std \(10\) differ"),
])
def test_bad_metadata_is_refused(tmp_path, field, value, message):
    path = conv_model(tmp_path / "m.onnx", meta=metadata(**{field: value}))
    with pytest.raises(ModelError, match=message):
        Model(path, device="cpu", scale=1.0)


def test_metadata_not_json(tmp_path):
    import onnx
    path = conv_model(tmp_path / "j.onnx")
    m = onnx.load(str(path))
    m.metadata_props[0].value = "{not json"
    onnx.save(m, str(path))
    with pytest.raises(ModelError, match="is not valid JSON"):
        Model(path, device="cpu", scale=1.0)


def test_synthetic_label(tmp_path):
    path = conv_model(tmp_path / "s.onnx", meta=metadata(trained_on="synthetic sites (export.synthetic, seed 1)"))
    model = Model(path, device="cpu", scale=1.0)
    assert model.info.synthetic and "trained on synthetic sites" in model.description
    assert json.loads(json.dumps(model.info.extra)) == {}


# --- the contract itself (core/engine/contract.py), shared with export/onnx.py -----------------

def test_metadata_round_trips_through_the_contract():
    info = ModelInfo.from_json(json.dumps(metadata(notes="kept")), "m.onnx")
    assert json.loads(info.to_json()) == metadata(notes="kept") and info.extra == {"notes": "kept"}


def test_defaults_fill_what_the_engine_may_leave_out():
    meta = {k: v for k, v in metadata(task="change").items() if k in NORMALIZATION_FIELDS + ("task",)}
    info = ModelInfo.from_json(meta, "folder/change.onnx")
    assert info.name == "change" and info.classes == TASK_TABLE["change"].classes
    assert (info.patch_size, info.output, info.license) == (DEFAULTS["patch_size"], "logits", "unknown")


def test_complete_metadata_is_demanded_for_export():
    meta = {k: v for k, v in metadata().items() if k not in ("license", "version")}
    ModelInfo.from_json(meta, "m.onnx")  # the engine accepts defaults
    with pytest.raises(ModelError, match=r"m.onnx: metadata 'euromine' lacks license, version"):
        ModelInfo.from_json(meta, "m.onnx", complete=True)


def test_every_wrong_field_is_named_in_one_error():
    meta = metadata(task="segmentation", output="scores", classes=["mining"], patch_size=0)
    with pytest.raises(ModelError) as error:
        ModelInfo.from_json(meta, "m.onnx")
    assert str(error.value).count(";") == 3
    for field in ("unknown task 'segmentation'", "output must be", "classes must name", "patch_size must be"):
        assert field in str(error.value)


def test_non_finite_normalization_is_refused():
    with pytest.raises(ModelError, match="every mean must be a finite number"):
        ModelInfo.from_json(metadata(mean=[float("nan")] * 10), "m.onnx")


def test_task_table_layouts():
    assert TASK_TABLE["footprint"].dynamic_axes == {0: "N", 2: "H", 3: "W"}
    assert TASK_TABLE["footprint_series"].dynamic_axes == {0: "N", 1: "T", 3: "H", 4: "W"}
    assert [TASK_TABLE[t].class_axis for t in TASKS] == [1, 1, 2]
    assert [TASK_TABLE[t].images_per_sample for t in TASKS] == [1, 2, 0]
