"""Reduced-precision siblings of an exported model: a statically quantized int8 file for CPUs and
an fp16 file for CUDA and TensorRT, each written next to its parent as ``NAME.int8.onnx`` /
``NAME.fp16.onnx`` (core.engine.precision reads them).

int8 uses onnxruntime.quantization.quantize_static (QDQ format, per-channel weights) calibrated
on seeded training patches; fp16 uses onnxruntime's float16 converter with float32 inputs and
outputs. Every sibling carries its parent's contract metadata and, under
core.engine.precision.VARIANT_KEY, its precision, its parent's sha256 and its argmax agreement with
the parent on check patches (held-out sites); a sibling below MIN_AGREEMENT is not written.

``python -m export.quantize models_onnx/unet_footprint.onnx --int8 --calibration-data build/zoo/train
--check-data build/zoo/test``
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxruntime.transformers.float16 import ALWAYS_FLOAT_INPUTS, convert_float_to_float16

from euromine_qgis.core.engine.contract import METADATA_KEY, TASK_TABLE, ModelInfo, model_inputs
from euromine_qgis.core.engine.precision import MIN_AGREEMENT, VARIANT_KEY, sibling_path
from euromine_qgis.core.io.checksum import sha256_of
from export.data import ChangePairs, FootprintPatches, SeriesStacks, TrainingSite, training_sites

SAMPLES = {"footprint": FootprintPatches, "change": ChangePairs, "footprint_series": SeriesStacks}
CALIBRATION_SEED = 0
CHECK_SEED = 1


class QuantizeError(RuntimeError):
    """A sibling could not be made or missed the agreement bound; nothing was written under its name."""


def sample_batches(path: Path, sites: Sequence[TrainingSite], count: int, seed: int, patch: int
                   ) -> list[dict[str, np.ndarray]]:
    """``count`` seeded single-sample feeds (input name -> array) of normalized ``patch``² patches
    of ``sites`` for the model in ``path``, as the engine feeds it (contract.model_inputs)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = ModelInfo.from_json(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY), path)
    names = [i.name for i in session.get_inputs()]
    patches = SAMPLES[info.task](sites, patch=patch)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(patches), size=min(count, len(patches)), replace=False)
    feeds = []
    for n in sorted(picks):
        image = patches[int(n)]["image"]  # (C, P, P), or (images, C, P, P)
        batch = image.reshape(1, -1, patch, patch).astype(np.float32)
        feeds.append(dict(zip(names, model_inputs(batch, info, len(names)), strict=True)))
    return feeds


class _Feeds(CalibrationDataReader):
    """onnxruntime's calibration reader over prepared feeds."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def argmax_agreement(parent: Path, sibling: Path, feeds: Sequence[dict[str, np.ndarray]], task: str) -> float:
    """Share of pixels where ``sibling``'s class (argmax) equals ``parent``'s over ``feeds``."""
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (parent, sibling)]
    axis = TASK_TABLE[task].class_axis
    same = total = 0
    for feed in feeds:
        a, b = (s.run(None, feed)[0].argmax(axis=axis) for s in sessions)
        same += int(np.count_nonzero(a == b))
        total += a.size
    return same / total


def _int8(parent: Path, out: Path, feeds: Sequence[dict[str, np.ndarray]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(parent), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out), _Feeds(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def _fp16(parent: Path, out: Path) -> None:
    proto = onnx.load(str(parent))
    _unshare_float_inputs(proto)
    onnx.save_model(convert_float_to_float16(proto, keep_io_types=True), str(out), save_as_external_data=False)


def _unshare_float_inputs(proto: onnx.ModelProto) -> None:
    """Give every node its own copy of an initializer that the converter keeps in float32
    (ALWAYS_FLOAT_INPUTS, e.g. Resize's scales): it names the Cast it inserts after the value, so
    one value shared by several such nodes gets several Casts of one name, which onnxruntime refuses."""
    initializers = {i.name: i for i in proto.graph.initializer}
    used: set[str] = set()
    for node in proto.graph.node:
        for index in ALWAYS_FLOAT_INPUTS.get(node.op_type, []):
            name = node.input[index] if index < len(node.input) else ""
            if name not in initializers:
                continue
            if name in used:
                copy = onnx.TensorProto()
                copy.CopyFrom(initializers[name])
                copy.name = f"{name}_{node.name}"
                proto.graph.initializer.append(copy)
                node.input[index] = copy.name
            used.add(name)


def write_sibling(parent: Path, precision: str, calibration: Sequence[TrainingSite], check: Sequence[TrainingSite],
                  command: str, calibration_samples: int = 32, check_samples: int = 16) -> tuple[Path, dict[str, Any]]:
    """Write the ``precision`` ('int8' or 'fp16') sibling of ``parent`` next to it; return its path and
    the record stored in its metadata. int8 is calibrated on ``calibration_samples`` patches of
    ``calibration``; the agreement is measured on ``check_samples`` patches of ``check``."""
    parent = Path(parent)
    out = sibling_path(parent, precision)
    proto = onnx.load(str(parent), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    info = ModelInfo.from_json(meta.get(METADATA_KEY), parent)
    patch = info.patch_size
    check_feeds = sample_batches(parent, check, check_samples, CHECK_SEED, patch)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if precision == "int8":
            _int8(parent, tmp, sample_batches(parent, calibration, calibration_samples, CALIBRATION_SEED, patch))
            how = (f"onnxruntime.quantization.quantize_static, QDQ, per-channel int8 weights, uint8 activations, "
                   f"MinMax calibration on {calibration_samples} seeded {patch}x{patch} patches of "
                   f"{len(calibration)} sites")
        elif precision == "fp16":
            _fp16(parent, tmp)
            how = "onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)"
        else:
            raise QuantizeError(f"no sibling precision '{precision}' (int8 or fp16)")
        agreement = argmax_agreement(parent, tmp, check_feeds, info.task)
        if agreement < MIN_AGREEMENT:
            raise QuantizeError(f"{out}: argmax agreement with {parent.name} is {agreement:.4f} on "
                                f"{len(check_feeds)} check patches, below {MIN_AGREEMENT}; not written")
        record = {"precision": precision, "parent": parent.name, "parent_sha256": sha256_of(parent),
                  "argmax_agreement": round(agreement, 5), "agreement_patches": len(check_feeds),
                  "method": how, "command": command}
        sibling = onnx.load(str(tmp))
        del sibling.metadata_props[:]
        for key, value in {**meta, VARIANT_KEY: json.dumps(record, sort_keys=True)}.items():
            entry = sibling.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save_model(sibling, str(tmp), save_as_external_data=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out, record


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the int8 or fp16 sibling of an exported model."""
    parser = argparse.ArgumentParser(prog="python -m export.quantize", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="the fp32 .onnx file (the sibling is written next to it)")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--int8", action="store_true", help="statically quantized int8 sibling (CPU)")
    kind.add_argument("--fp16", action="store_true", help="float16 sibling, float32 in/out (CUDA, TensorRT)")
    parser.add_argument("--calibration-data", type=Path, help="training sites for int8 calibration")
    parser.add_argument("--check-data", required=True, type=Path, help="held-out sites for the argmax agreement")
    parser.add_argument("--calibration-samples", type=int, default=32)
    parser.add_argument("--check-samples", type=int, default=16)
    args = parser.parse_args(argv)
    if args.int8 and not args.calibration_data:
        parser.error("--int8 needs --calibration-data")
    command = "python -m export.quantize " + shlex.join(list(sys.argv[1:] if argv is None else argv))
    calibration = training_sites(args.calibration_data) if args.int8 else []
    try:
        path, record = write_sibling(args.model, "int8" if args.int8 else "fp16", calibration,
                                     training_sites(args.check_data), command,
                                     args.calibration_samples, args.check_samples)
    except QuantizeError as exc:
        print(f"quantization failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
