"""Small real ONNX models for tests, built with onnx.helper (no torch needed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BANDS = ["B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"]
MEAN = [1089.744, 1004.044, 912.912, 1157.544, 1956.372, 2314.408, 2249.625, 2551.816, 1920.890, 1185.545]
STD = [220.011, 258.622, 385.300, 352.842, 433.084, 555.786, 556.498, 616.861, 615.748, 531.514]


def metadata(**changes) -> dict:
    """The EuroMine metadata contract for a test footprint model."""
    meta = {
        "name": "test_conv", "task": "footprint", "bands": BANDS, "mean": MEAN, "std": STD,
        "patch_size": 64, "classes": ["background", "mining"], "output": "logits",
        "trained_on": "random weights for tests", "license": "MIT", "version": "0",
    }
    meta.update(changes)
    return meta


def conv_model(
    path: Path,
    in_channels: int = 10,
    hidden: int = 6,
    seed: int = 0,
    meta: dict | None = None,
    static_hw: int | None = None,
) -> Path:
    """Two 3×3 zero-padded convolutions with a ReLU between: (N, C, H, W) -> (N, 2, H, W).

    Its receptive field is 5×5, so tiling with an overlap of 8 or more reproduces whole-scene
    inference exactly. ``meta=None`` embeds the default metadata; ``meta={}`` embeds none.
    """
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.4, (hidden, in_channels, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, hidden).astype(np.float32)
    w2 = rng.normal(0, 0.4, (2, hidden, 3, 3)).astype(np.float32)
    b2 = rng.normal(0, 0.1, 2).astype(np.float32)
    hw = [static_hw, static_hw] if static_hw else ["H", "W"]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w1", "b1"], ["h1"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["h1"], ["h2"]),
            helper.make_node("Conv", ["h2", "w2", "b2"], ["logits"], pads=[1, 1, 1, 1]),
        ],
        "test_conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", in_channels, *hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, *hw])],
        initializer=[numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = metadata() if meta is None else meta
    if meta:
        helper.set_model_props(model, {"euromine": json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
