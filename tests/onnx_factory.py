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


def change_model(path: Path, two_inputs: bool = True, in_channels: int = 10, seed: int = 1,
                 meta: dict | None = None) -> Path:
    """A bitemporal change model: (before, after) -> (N, 2, H, W) logits of [no_change, change].

    Two inputs: a 3×3 convolution of (after − before). One input: the same convolution applied
    to the difference of the two halves of a (N, 2C, H, W) stack.
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (2, in_channels, 3, 3)).astype(np.float32)
    b = np.array([0.5, -0.5], np.float32)
    hw = ["N", in_channels, "H", "W"]
    if two_inputs:
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, hw) for n in ("before", "after")]
        nodes = [helper.make_node("Sub", ["after", "before"], ["diff"])]
        extra = []
    else:
        inputs = [helper.make_tensor_value_info("pair", TensorProto.FLOAT, ["N", 2 * in_channels, "H", "W"])]
        nodes = [
            helper.make_node("Split", ["pair", "halves"], ["before", "after"], axis=1),
            helper.make_node("Sub", ["after", "before"], ["diff"]),
        ]
        extra = [numpy_helper.from_array(np.array([in_channels, in_channels], np.int64), "halves")]
    nodes.append(helper.make_node("Conv", ["diff", "w", "b"], ["logits"], pads=[1, 1, 1, 1]))
    graph = helper.make_graph(
        nodes, "test_change", inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), *extra],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = metadata(name="test_change", task="change", classes=["no_change", "change"]) if meta is None else meta
    helper.set_model_props(model, {"euromine": json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
