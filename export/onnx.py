"""ONNX export for every EuroMine model: export, embed the model contract, prove parity, register.

Exporter choice: torch.onnx's torch.export-based ("dynamo") exporter. In torch 2.13 it is the
default and the maintained path (the TorchScript exporter warns that it will be removed); it
produces a constant-folded graph without Constant-node clutter and with named symbolic N/H/W,
and both exporters gave byte-identical files on repeated runs. Its operator library starts at
opset 18, so a lower opset (the default 17) goes through ONNX's version converter; the opset
actually written is checked below, and the parity runs prove the converted graph. The
TorchScript exporter stays available (``exporter="torchscript"``) for an architecture that
torch.export cannot capture.

Run ``python -m export.onnx --help`` for the command line.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

METADATA_KEY = "euromine"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
# How each exporter choice is named in models.json provenance.
EXPORTERS = {"dynamo": "torch.onnx.export(dynamo=True)", "torchscript": "torch.onnx.export(dynamo=False)"}

TASKS = ("footprint", "change", "footprint_series")
METADATA_KEYS = (
    "name", "task", "bands", "mean", "std", "patch_size", "classes", "output",
    "trained_on", "license", "version",
)
REGISTRY_KEYS = (
    "name", "file", "task", "architecture", "display_name", "trained_on", "synthetic_training",
    "license", "version", "provenance", "description",
)
PROVENANCE_KEYS = ("command", "seed", "torch", "onnx_opset", "exporter")

# Parity tolerances (the team's contract for every exported model).
MAX_ABS_DIFF = 1e-4
MIN_ARGMAX_AGREEMENT = 0.999
PARITY_SEED = 0


class ExportError(RuntimeError):
    """An exported model failed a check; nothing was written under the requested name."""


def validate_metadata(metadata: dict[str, Any], in_channels: int) -> str:
    """Check ``metadata`` against the model contract; return it as canonical JSON text."""
    missing = [k for k in METADATA_KEYS if k not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {', '.join(missing)} (model contract, DESIGN.md)")
    if metadata["task"] not in TASKS:
        raise ValueError(f"metadata task '{metadata['task']}' is not one of {', '.join(TASKS)}")
    if metadata["output"] not in ("logits", "probabilities"):
        raise ValueError(f"metadata output must be 'logits' or 'probabilities', got '{metadata['output']}'")
    lengths = {k: len(metadata[k]) for k in ("bands", "mean", "std")}
    if set(lengths.values()) != {in_channels}:
        raise ValueError(f"bands/mean/std lengths {lengths} must all equal in_channels={in_channels}")
    if any(float(s) <= 0 for s in metadata["std"]):
        raise ValueError("every std must be positive")
    if len(metadata["classes"]) < 2:
        raise ValueError("classes must name at least two classes")
    return json.dumps(metadata, sort_keys=True, allow_nan=False)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints and known-harmless warnings; errors still raise."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _to_proto(
    model: torch.nn.Module, sample: torch.Tensor, dynamic: bool, opset: int, exporter: str
) -> onnx.ModelProto:
    axes = {0: "N", 2: "H", 3: "W"}
    with _quiet_exporter(), torch.no_grad():
        if exporter == "dynamo":
            program = torch.onnx.export(
                model,
                (sample,),
                None,
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                # String names map to Dim.DYNAMIC and are renamed in the graph afterwards, so
                # torch.export may infer constraints (e.g. divisibility) instead of failing.
                dynamic_shapes=(axes,) if dynamic else None,
                external_data=False,
                verbose=False,
            )
            return program.model_proto
        buffer = io.BytesIO()
        torch.onnx.export(
            model,
            (sample,),
            buffer,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes} if dynamic else None,
        )
        return onnx.load_from_string(buffer.getvalue())


def _embed_metadata(proto: onnx.ModelProto, text: str) -> None:
    kept = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, text


def _check_graph(proto: onnx.ModelProto, opset: int, dynamic: bool) -> None:
    onnx.checker.check_model(proto, full_check=True)
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ExportError(f"asked for opset {opset}, the exporter wrote opset {written}")
    if [i.name for i in proto.graph.input] != [INPUT_NAME] or proto.graph.output[0].name != OUTPUT_NAME:
        raise ExportError(
            f"graph inputs {[i.name for i in proto.graph.input]} / first output "
            f"'{proto.graph.output[0].name}': expected one input '{INPUT_NAME}' and output '{OUTPUT_NAME}'"
        )
    if dynamic:
        for value in (proto.graph.input[0], proto.graph.output[0]):
            dims = value.type.tensor_type.shape.dim
            fixed = [i for i in (0, 2, 3) if i >= len(dims) or not dims[i].dim_param]
            if fixed:
                raise ExportError(f"'{value.name}' axes {fixed} are not symbolic; N, H, W must be dynamic")


def check_parity(
    model: torch.nn.Module,
    onnx_path: Path,
    shape: tuple[int, ...],
    n_classes: int | None = None,
    seed: int = PARITY_SEED,
) -> tuple[float, float]:
    """Run onnxruntime (CPU) and PyTorch eval on one random input of ``shape``.

    Returns (max abs logit difference, fraction of pixels with the same argmax); raises
    ExportError when either misses the tolerances or the output shape is wrong.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=generator, dtype=torch.float32)
    with torch.no_grad():
        expected = model(x).detach().cpu().numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    if got.shape != expected.shape:
        raise ExportError(f"onnxruntime output {got.shape} != PyTorch output {expected.shape} for input {shape}")
    if got.ndim != 4 or got.shape[0] != shape[0] or got.shape[2:] != tuple(shape[2:]):
        raise ExportError(f"output {got.shape} is not (N, K, H, W) for input {shape}")
    if n_classes is not None and got.shape[1] != n_classes:
        raise ExportError(f"output has {got.shape[1]} channels, metadata lists {n_classes} classes")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected)))
    agree = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1)))
    if not diff <= MAX_ABS_DIFF or agree < MIN_ARGMAX_AGREEMENT:  # "not <=" also catches NaN
        raise ExportError(
            f"parity failed at input {shape}: max |onnxruntime - torch| = {diff:.3g} "
            f"(limit {MAX_ABS_DIFF}), argmax agreement {agree:.5f} (limit {MIN_ARGMAX_AGREEMENT})"
        )
    return diff, agree


def export_onnx(
    model: torch.nn.Module,
    out_path: Path,
    metadata: dict,
    *,
    in_channels: int = 10,
    sample_hw: tuple[int, int] = (160, 160),
    dynamic: bool = True,
    opset: int = 17,
    check_shape: tuple[int, int, int] = (3, 97, 131),
    exporter: str = "dynamo",
) -> Path:
    """Export ``model`` ((N, C, H, W) -> (N, K, H, W)) to a single self-contained .onnx file.

    Embeds ``metadata`` (the model contract) as JSON under metadata_props["euromine"], runs the
    ONNX checker and proves parity with PyTorch at ``(1, C, *sample_hw)`` and, when dynamic, at
    ``(check_shape[0], C, check_shape[1], check_shape[2])``. Pass a check_shape the
    architecture accepts (e.g. multiples of 32 for a deep U-Net). The file is written under a
    temporary name in the same folder and renamed only after every check passed.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {', '.join(EXPORTERS)}, got '{exporter}'")
    text = validate_metadata(metadata, in_channels)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    sample = torch.randn(1, in_channels, *sample_hw, generator=torch.Generator().manual_seed(PARITY_SEED))

    proto = _to_proto(model, sample, dynamic, opset, exporter)
    _embed_metadata(proto, text)
    _check_graph(proto, opset, dynamic)

    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
        n_classes = len(metadata["classes"])
        check_parity(model, tmp, (1, in_channels, *sample_hw), n_classes)
        if dynamic:
            n, h, w = check_shape
            check_parity(model, tmp, (n, in_channels, h, w), n_classes)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def read_metadata(path: Path) -> dict[str, Any]:
    """The ``euromine`` metadata JSON of an .onnx file, as a dict."""
    proto = onnx.load(str(path), load_external_data=False)
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    raise KeyError(f"{path}: no '{METADATA_KEY}' metadata")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def register_model(models_dir: Path, entry: dict) -> None:
    """Add or replace (by name) ``entry`` in ``models_dir/models.json``.

    ``sha256`` and ``size_bytes`` are computed from ``models_dir/entry["file"]``; entries are
    kept sorted by name and the file is written with sorted keys, so the same models give the
    same bytes.
    """
    models_dir = Path(models_dir)
    missing = [k for k in REGISTRY_KEYS if k not in entry]
    missing += [f"provenance.{k}" for k in PROVENANCE_KEYS if k not in entry.get("provenance", {})]
    if missing:
        raise ValueError(f"models.json entry lacks {', '.join(missing)}")
    file = models_dir / entry["file"]
    if Path(entry["file"]).name != entry["file"] or not file.is_file():
        raise ValueError(f"'{entry['file']}' must be the name of a file in {models_dir}")
    record = dict(entry, sha256=sha256_of(file), size_bytes=file.stat().st_size)

    index = models_dir / "models.json"
    models = json.loads(index.read_text(encoding="utf-8"))["models"] if index.is_file() else []
    models = [m for m in models if m.get("name") != record["name"]] + [record]
    models.sort(key=lambda m: m["name"])
    text = json.dumps({"models": models}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = index.with_name(f".{index.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, index)


def main(argv: list[str] | None = None) -> int:
    """Command line: inspect exported models (export commands live with each model's module)."""
    parser = argparse.ArgumentParser(
        prog="python -m export.onnx",
        description=(
            "EuroMine ONNX export step shared by every model: export_onnx() writes a single "
            ".onnx file with the 'euromine' model-contract metadata, after the ONNX checker and "
            "an onnxruntime-vs-PyTorch parity check at two input sizes; register_model() "
            "records it in models_onnx/models.json with sha256 and provenance. Each model "
            "module has its own export command, e.g. 'python -m export.spectral --out "
            "models_onnx'. This command prints the metadata of .onnx files and checks them "
            "against a models.json."
        ),
    )
    parser.add_argument("models", nargs="*", type=Path, help=".onnx files whose 'euromine' metadata to print")
    parser.add_argument(
        "--verify", type=Path, metavar="MODELS_DIR",
        help="check every file listed in MODELS_DIR/models.json against its sha256 and size",
    )
    args = parser.parse_args(argv)
    for path in args.models:
        print(f"{path}: {json.dumps(read_metadata(path), sort_keys=True)}")
    status = 0
    if args.verify is not None:
        for m in json.loads((args.verify / "models.json").read_text(encoding="utf-8"))["models"]:
            file = args.verify / m["file"]
            ok = file.is_file() and file.stat().st_size == m["size_bytes"] and sha256_of(file) == m["sha256"]
            print(f"{'ok  ' if ok else 'FAIL'} {m['name']} ({m['file']})")
            status |= 0 if ok else 1
    if not args.models and args.verify is None:
        parser.print_help()
    return status


if __name__ == "__main__":
    sys.exit(main())
