"""Small real ONNX models for tests, built with onnx.helper (no torch needed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

from euromine_qgis.core import release
from euromine_qgis.core.engine.contract import METADATA_KEY, TASK_TABLE

BANDS = list(release.BANDS)
MEAN = list(release.MEAN)
STD = list(release.STD)


def metadata(**changes) -> dict:
    """The EuroMine metadata contract for a test footprint model."""
    meta = {
        "name": "test_conv", "task": "footprint", "bands": BANDS, "mean": MEAN, "std": STD,
        "patch_size": 64, "classes": list(TASK_TABLE["footprint"].classes), "output": "logits",
        "trained_on": "random weights for tests", "license": "MIT", "version": "0",
        "receptive_field": None, "tolerant_receptive_field": None, "alignment": 1,
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
    out_channels: int = 2,
    kernel: int = 3,
    stride: int = 1,
    spatial_dims: int = 2,
) -> Path:
    """Two k×k zero-padded convolutions with a ReLU between: (N, C, H, W) -> (N, 2, H, W).

    With the default 3×3 kernels its receptive field is 5×5, so tiling with an overlap of 8 or
    more reproduces whole-scene inference exactly; with ``kernel=1`` it is pixelwise. The other
    arguments make models that break the contract on purpose: ``out_channels`` output classes,
    a second convolution of ``stride`` (a smaller output), ``spatial_dims=1`` a (N, C, L) input.
    ``meta=None`` embeds the default metadata; ``meta={}`` embeds none.
    """
    rng = np.random.default_rng(seed)
    window = [kernel] * spatial_dims
    pads = [kernel // 2] * (2 * spatial_dims)
    w1 = rng.normal(0, 0.4, (hidden, in_channels, *window)).astype(np.float32)
    b1 = rng.normal(0, 0.1, hidden).astype(np.float32)
    w2 = rng.normal(0, 0.4, (out_channels, hidden, *window)).astype(np.float32)
    b2 = rng.normal(0, 0.1, out_channels).astype(np.float32)
    in_dims = [static_hw] * spatial_dims if static_hw else ["H", "W"][:spatial_dims]
    out_dims = in_dims if stride == 1 else [None] * spatial_dims  # a strided output is smaller
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w1", "b1"], ["h1"], pads=pads),
            helper.make_node("Relu", ["h1"], ["h2"]),
            helper.make_node("Conv", ["h2", "w2", "b2"], ["logits"], pads=pads, strides=[stride] * spatial_dims),
        ],
        "test_conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", in_channels, *in_dims])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", out_channels, *out_dims])],
        initializer=[numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = metadata() if meta is None else meta
    if meta:
        helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
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
    if meta is None:
        meta = metadata(name="test_change", task="change", classes=list(TASK_TABLE["change"].classes))
    helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def series_model(path: Path, in_channels: int = 10, seed: int = 2, meta: dict | None = None) -> Path:
    """A footprint_series model: (N, T, C, H, W) -> (N, T, 2, H, W) logits, one 3x3x3 convolution
    over (year, row, column). Each year's map sees its neighbouring years, and the receptive
    field is 3 px, so tiling with any overlap >= 4 reproduces whole-scene inference."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.3, (2, in_channels, 3, 3, 3)).astype(np.float32)
    b = np.array([0.3, -0.3], np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Transpose", ["image"], ["ncthw"], perm=[0, 2, 1, 3, 4]),
            helper.make_node("Conv", ["ncthw", "w", "b"], ["nkthw"], pads=[1] * 6),
            helper.make_node("Transpose", ["nkthw"], ["logits"], perm=[0, 2, 1, 3, 4]),
        ],
        "test_series",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", "T", in_channels, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", "T", 2, "H", "W"])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = metadata(name="test_series", task="footprint_series") if meta is None else meta
    helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def with_external_data(path: Path, data_file: Path, location: str) -> Path:
    """Move the weights of the model at ``path`` into ``data_file`` (ONNX external data) and
    record them in the model as ``location``: a name beside the model, a relative path out of
    its folder, an absolute path or a link, as a model file found in the wild may carry."""
    model = onnx.load(str(path))
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location=data_file.name, size_threshold=0)
    onnx.save(model, str(path))  # writes the weights beside the model
    if path.parent / data_file.name != data_file:
        (path.parent / data_file.name).replace(data_file)
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(model, str(path))
    return path


def pooled_model(path: Path, in_channels: int = 10, seed: int = 3, meta: dict | None = None,
                 global_context: bool = False) -> Path:
    """A small encoder-decoder: 3×3 conv, 2×2 max pooling, 3×3 conv, nearest 2× upsampling, 3×3
    conv to 2 classes. Its output shifts with its input only by whole pooling cells (alignment 2)
    and a pixel sees 5 px to each side (its receptive field); H and W must be even.
    ``global_context`` adds the scene's mean of the pooled features to them: every pixel then sees
    the whole scene, as with global pooling or attention."""
    rng = np.random.default_rng(seed)
    shapes = {"w1": (6, in_channels, 3, 3), "w2": (6, 6, 3, 3), "w3": (2, 6, 3, 3)}
    weights = {n: rng.normal(0, 0.4, s).astype(np.float32) for n, s in shapes.items()}
    scales = np.array([1, 1, 2, 2], np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w1"], ["c1"], pads=[1] * 4),
            helper.make_node("Relu", ["c1"], ["r1"]),
            helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
            *([helper.make_node("GlobalAveragePool", ["p1"], ["g1"]),
               helper.make_node("Add", ["p1", "g1"], ["p1g"])] if global_context else []),
            helper.make_node("Conv", ["p1g" if global_context else "p1", "w2"], ["c2"], pads=[1] * 4),
            helper.make_node("Relu", ["c2"], ["r2"]),
            helper.make_node("Resize", ["r2", "", "scales"], ["u2"], mode="nearest"),
            helper.make_node("Conv", ["u2", "w3"], ["logits"], pads=[1] * 4),
        ],
        "test_pooled",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", in_channels, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=[*(numpy_helper.from_array(a, n) for n, a in weights.items()),
                     numpy_helper.from_array(scales, "scales")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = metadata(name="test_pooled") if meta is None else meta
    helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
