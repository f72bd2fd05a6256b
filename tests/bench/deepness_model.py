"""A EuroMine footprint model rewritten for the Deepness QGIS plugin, for the side-by-side bench.

Deepness reads its settings from its own metadata keys, needs a fixed input side and thresholds
each output channel before any argmax; so the copy takes fixed ``tile`` × ``tile`` tiles and ends
in the positive class's softmax probability, one channel. Deepness divides raw values by 255
before standardizing, so the z-score's mean and std are divided by 255 too: both tools feed the
network the same numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import helper

from euromine_qgis.core.engine.contract import METADATA_KEY, ModelInfo

PROBABILITY = "probability"


def deepness_copy(source: Path, out: Path, tile: int, overlap: int, resolution_cm: float) -> Path:
    """Write ``out``: ``source`` (a EuroMine footprint model emitting (N, classes, H, W) logits)
    with a fixed ``tile``² input, a one-channel probability head for the positive class and
    Deepness's metadata (``overlap`` px, pixels of ``resolution_cm``); return ``out``."""
    model = onnx.load(str(source))
    meta = {p.key: p.value for p in model.metadata_props}
    info = ModelInfo.from_json(meta[METADATA_KEY], source)
    if info.output != "logits" or info.series or info.task != "footprint":
        raise ValueError(f"{source}: expected a per-year footprint model emitting logits")
    graph = model.graph
    (image,) = graph.input
    for dim in image.type.tensor_type.shape.dim[2:]:
        dim.ClearField("dim_param")
        dim.dim_value = tile
    (logits,) = graph.output
    k = info.positive_class
    const = [helper.make_tensor(f"deepness_{name}", onnx.TensorProto.INT64, [1], [value])
             for name, value in (("start", k), ("end", k + 1), ("axis", 1))]
    graph.initializer.extend(const)
    graph.node.extend([
        helper.make_node("Softmax", [logits.name], ["deepness_softmax"], axis=1),
        helper.make_node("Slice", ["deepness_softmax", *(c.name for c in const)], [PROBABILITY]),
    ])
    batch = image.type.tensor_type.shape.dim[0].dim_param or "N"
    graph.output.remove(logits)
    graph.output.append(helper.make_tensor_value_info(PROBABILITY, onnx.TensorProto.FLOAT, [batch, 1, tile, tile]))
    del model.metadata_props[:]
    helper.set_model_props(model, {key: json.dumps(value) for key, value in {
        "model_type": "Segmentor",
        "class_names": {"0": info.classes[k]},
        "standardization_mean": [m / 255 for m in info.mean],
        "standardization_std": [s / 255 for s in info.std],
        "resolution": resolution_cm,
        "tile_size": tile,
        "tiles_overlap": round(100 * overlap / tile),
        "seg_thresh": 0.5,
        "seg_small_segment": 0,
    }.items()})
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out
