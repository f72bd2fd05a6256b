"""ONNX export for every EuroMine model: export, embed the model contract, prove parity; check the
files a models.json lists (its reading and writing: euromine_qgis.core.engine.model_registry).

Exporter choice: torch.onnx's torch.export-based ("dynamo") exporter. In torch 2.13 it is the
default and the maintained path (the TorchScript exporter warns that it will be removed); it
produces a constant-folded graph without Constant-node clutter and with named symbolic N/H/W,
and both exporters gave byte-identical files on repeated runs. Its operator library starts at
opset 18, so a lower opset (the default 17) goes through ONNX's version converter; the opset
actually written is checked below, and the parity runs prove the converted graph. Where the
converter cannot lower a graph (some of DeepLabV3+'s and ChangeFormer's operators), the export
fails with OpsetError and ``--opset 18`` (NATIVE_OPSET) writes the graph unconverted. The
TorchScript exporter stays available (``exporter="torchscript"``) for an architecture that
torch.export cannot capture.

Run ``python -m export.onnx --help`` for the command line.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from euromine_qgis.core import release
from euromine_qgis.core.engine.contract import DEFAULTS, METADATA_KEY, OUTPUT_NAME, TASK_TABLE, ModelInfo
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.model_registry import SYNTHETIC_LABEL, read_models
from euromine_qgis.core.engine.receptive_field import ReceptiveField, measure
from euromine_qgis.core.errors import ModelError
from euromine_qgis.core.io.checksum import sha256_of
from export.field_scenes import site_scenes

# How each exporter choice is named in models.json provenance.
EXPORTERS = {"dynamo": "torch.onnx.export(dynamo=True)", "torchscript": "torch.onnx.export(dynamo=False)"}

# Contract fields the exporter measures on the exported file instead of taking them from the caller.
MEASURED_FIELDS = ("receptive_field", "tolerant_receptive_field", "alignment")

# Parity tolerances (the team's contract for every exported model).
MAX_ABS_DIFF = 1e-4
MIN_ARGMAX_AGREEMENT = 0.999
PARITY_SEED = 0


NATIVE_OPSET = 18  # the dynamo exporter's own opset: no version conversion


class ExportError(RuntimeError):
    """An exported model failed a check; nothing was written under the requested name."""


class OpsetError(ExportError):
    """ONNX's version converter could not lower the exported graph to the asked opset."""


def written_opset(proto: onnx.ModelProto) -> int | None:
    """The default-domain opset a graph imports."""
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def validate_metadata(metadata: dict[str, Any], in_channels: int, source: str | Path = "metadata") -> str:
    """Check complete ``metadata`` against the model contract (ModelError naming ``source``) and
    against the model's ``in_channels``; return it as the canonical JSON text."""
    info = ModelInfo.from_json(metadata, source, complete=True)
    if len(info.bands) != in_channels:
        raise ModelError(f"{source}: the metadata's {len(info.bands)} bands must equal the model's "
                         f"in_channels={in_channels}")
    return info.to_json()


def contract_metadata(name: str, task: str, trained_on: str, version: str, license: str = "MIT",
                      classes: Sequence[str] | None = None) -> dict[str, Any]:
    """Model-contract metadata for a model on the release's bands, normalization and patch size;
    its receptive field and alignment (MEASURED_FIELDS) are left unknown until export measures them."""
    return {
        "name": name,
        "task": task,
        "bands": list(release.BANDS),
        "mean": list(release.MEAN),
        "std": list(release.STD),
        "patch_size": release.PATCH_SIZE,
        "classes": list(classes or TASK_TABLE[task].classes),
        "output": "logits",
        "trained_on": trained_on,
        "license": license,
        "version": version,
        **{k: DEFAULTS[k] for k in MEASURED_FIELDS},
    }


def checkpoint_metadata(name: str, task: str, classes: Sequence[str], patch: int, trained_on: str,
                        version: str) -> dict[str, Any]:
    """Model-contract metadata of a module trained on ``patch``-pixel patches: the engine tiles
    with the benchmark patch size or the training patch, whichever is larger."""
    return dict(contract_metadata(name, task, trained_on, version, classes=classes),
                patch_size=max(release.PATCH_SIZE, patch))


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
            warnings.filterwarnings("ignore", message=".*axis name.*will not be used.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def example_inputs(
    task: str, n: int, channels: int, height: int, width: int, steps: int = 10, seed: int = PARITY_SEED
) -> tuple[torch.Tensor, ...]:
    """Seeded random inputs of the contract's shapes: (N, C, H, W) per image, (N, T, C, H, W)
    for a series model."""
    generator = torch.Generator().manual_seed(seed)
    shape = (n, steps, channels, height, width) if task == "footprint_series" else (n, channels, height, width)
    return tuple(torch.randn(*shape, generator=generator) for _ in TASK_TABLE[task].inputs)


def _to_proto(
    model: torch.nn.Module, sample: tuple[torch.Tensor, ...], task: str, dynamic: bool, opset: int, exporter: str
) -> onnx.ModelProto:
    names = list(TASK_TABLE[task].inputs)
    axes = TASK_TABLE[task].dynamic_axes
    with _quiet_exporter(), torch.no_grad():
        if exporter == "dynamo":
            program = torch.onnx.export(
                model,
                sample,
                None,
                dynamo=True,
                input_names=names,
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                # String names map to Dim.DYNAMIC and are renamed in the graph afterwards, so
                # torch.export may infer constraints (divisibility, before/after equality)
                # instead of failing.
                dynamic_shapes=tuple(axes for _ in names) if dynamic else None,
                external_data=False,
                verbose=False,
            )
            return program.model_proto
        buffer = io.BytesIO()
        torch.onnx.export(
            model,
            sample,
            buffer,
            dynamo=False,
            input_names=names,
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_axes={name: axes for name in [*names, OUTPUT_NAME]} if dynamic else None,
        )
        return onnx.load_from_string(buffer.getvalue())


def _embed_metadata(proto: onnx.ModelProto, text: str) -> None:
    kept = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, text


def record_receptive_field(path: Path) -> ReceptiveField:
    """Measure the receptive field and alignment of the model in ``path`` as onnxruntime runs it on
    the CPU (core.engine.receptive_field) and write them into its metadata, in place; the graph is
    untouched. A model whose field is unbounded gets ``receptive_field: null`` and the engine's
    fallback tiling."""
    model = Model(path, device="cpu", precision="fp32", scale=1.0)
    field = measure(model, more_scenes=site_scenes(model.info))
    rewrite_metadata(path, receptive_field=field.radius, alignment=field.alignment or 1)
    return field


def rewrite_metadata(path: Path, **fields: Any) -> None:
    """Replace ``fields`` of the contract metadata of the model in ``path``, in place (written under
    a temporary name, then renamed); the graph is untouched."""
    proto = onnx.load(str(path), load_external_data=False)
    metadata = {**{k: DEFAULTS[k] for k in MEASURED_FIELDS}, **read_metadata(path), **fields}
    _embed_metadata(proto, ModelInfo.from_json(metadata, path, complete=True).to_json())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.meta.tmp")
    try:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_graph(proto: onnx.ModelProto, task: str, opset: int, dynamic: bool) -> None:
    written = written_opset(proto)
    if written != opset:
        raise OpsetError(f"asked for opset {opset}, the exporter wrote opset {written} (ONNX's version converter "
                         f"could not lower the graph; export at opset {NATIVE_OPSET})")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        if opset == NATIVE_OPSET:
            raise
        raise OpsetError(f"the graph lowered to opset {opset} is invalid ({str(exc).splitlines()[0]}); "
                         f"export at opset {NATIVE_OPSET}") from exc
    spec = TASK_TABLE[task]
    names = [i.name for i in proto.graph.input]
    if names != list(spec.inputs) or proto.graph.output[0].name != OUTPUT_NAME:
        raise ExportError(
            f"graph inputs {names} / first output '{proto.graph.output[0].name}': a {task} model "
            f"needs inputs {list(spec.inputs)} and output '{OUTPUT_NAME}'"
        )
    if dynamic:
        for value in (*proto.graph.input, proto.graph.output[0]):
            dims = value.type.tensor_type.shape.dim
            fixed = [i for i in spec.dynamic_axes if i >= len(dims) or not dims[i].dim_param]
            if fixed:
                raise ExportError(
                    f"'{value.name}' axes {fixed} are not symbolic; "
                    f"{', '.join(spec.dynamic_axes.values())} must be dynamic"
                )


def check_parity(
    model: torch.nn.Module,
    onnx_path: Path,
    inputs: tuple[torch.Tensor, ...],
    task: str = "footprint",
    n_classes: int | None = None,
) -> tuple[float, float]:
    """Run onnxruntime (CPU) and PyTorch eval on the same ``inputs``.

    Returns (max abs logit difference, fraction of pixels with the same argmax); raises
    ExportError when either misses the tolerances or the output shape is wrong.
    """
    with torch.no_grad():
        expected = model(*inputs).detach().cpu().numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    spec = TASK_TABLE[task]
    got = session.run([OUTPUT_NAME], {name: x.numpy() for name, x in zip(spec.inputs, inputs, strict=True)})[0]
    shape = tuple(inputs[0].shape)
    if got.shape != expected.shape:
        raise ExportError(f"onnxruntime output {got.shape} != PyTorch output {expected.shape} for input {shape}")
    class_axis = spec.class_axis
    if got.ndim != len(shape) or got.shape[:class_axis] != shape[:class_axis] or got.shape[-2:] != shape[-2:]:
        raise ExportError(f"output {got.shape} is not ({', '.join(spec.output_layout)}) for input {shape}")
    if n_classes is not None and got.shape[class_axis] != n_classes:
        raise ExportError(f"output has {got.shape[class_axis]} classes, metadata lists {n_classes}")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected)))
    agree = float(np.mean(got.argmax(axis=class_axis) == expected.argmax(axis=class_axis)))
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
    steps: tuple[int, int] = (10, 7),
    exporter: str = "dynamo",
) -> Path:
    """Export ``model`` to a single self-contained .onnx file for ``metadata["task"]``.

    Footprint models take one (N, C, H, W) input "image", change models two ("before",
    "after"), series models one (N, T, C, H, W) "image"; the output "logits" is (N, K, H, W),
    or (N, T, K, H, W) for series. Embeds ``metadata`` (the model contract) as JSON under
    metadata_props["euromine"], runs the ONNX checker and proves parity with PyTorch at
    N = 1, ``sample_hw`` (T = ``steps[0]``) and, when dynamic, at ``check_shape`` = (N, H, W)
    with T = ``steps[1]``. Pass a check_shape the architecture accepts (e.g. multiples of 32
    for a deep U-Net). A dynamic export then gets its measured receptive field and alignment
    (MEASURED_FIELDS, see record_receptive_field) in its metadata. The file is written under a
    temporary name in the same folder and renamed only after every check passed.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {', '.join(EXPORTERS)}, got '{exporter}'")
    metadata = {**{k: DEFAULTS[k] for k in MEASURED_FIELDS}, **metadata}
    text = validate_metadata(metadata, in_channels, out_path)
    task = metadata["task"]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    sample = example_inputs(task, 1, in_channels, *sample_hw, steps=steps[0])

    proto = _to_proto(model, sample, task, dynamic, opset, exporter)
    _embed_metadata(proto, text)
    _check_graph(proto, task, opset, dynamic)

    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
        n_classes = len(metadata["classes"])
        check_parity(model, tmp, sample, task, n_classes)
        if dynamic:
            n, h, w = check_shape
            check_parity(model, tmp, example_inputs(task, n, in_channels, h, w, steps[1], seed=1), task, n_classes)
            record_receptive_field(tmp)
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


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The module of a checkpoint written by ``python -m export.train``, and the checkpoint."""
    from export import architectures

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    arch = architectures.get(checkpoint["arch"])
    model = arch.build(checkpoint["in_channels"], len(checkpoint["classes"]), checkpoint["width"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint


def trained_on_text(checkpoint: dict[str, Any]) -> str:
    """What a checkpoint was trained on, with the synthetic-training label where it applies."""
    return f"{checkpoint['trained_on']} — {SYNTHETIC_LABEL}" if checkpoint["synthetic"] else checkpoint["trained_on"]


def export_checkpoint(path: Path, out: Path, name: str | None = None, version: str = "1.0.0",
                      opset: int = 17) -> Path:
    """Export a training checkpoint with its contract metadata (parity-checked, see export_onnx)."""
    model, checkpoint = load_checkpoint(path)
    metadata = checkpoint_metadata(name or out.stem, checkpoint["task"], checkpoint["classes"],
                                   checkpoint["patch_size"], trained_on_text(checkpoint), version)
    return export_onnx(model, out, metadata, in_channels=checkpoint["in_channels"], check_shape=(2, 96, 128),
                       opset=opset)


def export_random(arch_name: str, out: Path, width: int | None = None, seed: int = 0, opset: int = 17) -> Path:
    """Smoke export of a freshly initialised (untrained, seeded) architecture."""
    from export import architectures

    arch = architectures.get(arch_name)
    torch.manual_seed(seed)
    model = arch.build(len(release.BANDS), 2, width)
    metadata = contract_metadata(out.stem, arch.task, f"untrained: random weights (seed {seed})", "0.0.0")
    return export_onnx(model, out, metadata, check_shape=(2, 96, 128), opset=opset)


def main(argv: list[str] | None = None) -> int:
    """Command line: export a checkpoint or a random architecture, or inspect exported models."""
    parser = argparse.ArgumentParser(
        prog="python -m export.onnx",
        description=(
            "EuroMine ONNX export: writes a single .onnx file with the 'euromine' model-contract "
            "metadata, after the ONNX checker and an onnxruntime-vs-PyTorch parity check at two "
            "input sizes (max |difference| <= 1e-4 on logits, argmax agreement >= 99.9 %%). "
            "Export a training checkpoint (--checkpoint) or an untrained architecture "
            "(--arch NAME --random); print the metadata of .onnx files; or check the files of "
            "a models.json (--verify)."
        ),
    )
    parser.add_argument("models", nargs="*", type=Path, help=".onnx files whose 'euromine' metadata to print")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint written by python -m export.train")
    parser.add_argument("--arch", help="architecture name, with --random")
    parser.add_argument("--random", action="store_true", help="export --arch with random (seeded) weights")
    parser.add_argument("--width", type=int, help="channel width for --random (default: the architecture's)")
    parser.add_argument("--name", help="model name in the metadata (default: the output file's stem)")
    parser.add_argument("--out", type=Path, help="output .onnx file for --checkpoint or --random")
    parser.add_argument("--opset", type=int, default=17, choices=(17, NATIVE_OPSET),
                        help=f"ONNX opset (default 17; {NATIVE_OPSET}: the exporter's own, for graphs that cannot be "
                             "lowered)")
    parser.add_argument(
        "--verify", type=Path, metavar="MODELS_DIR",
        help="check every file listed in MODELS_DIR/models.json against its sha256 and size",
    )
    args = parser.parse_args(argv)
    if (args.checkpoint or args.random) and not args.out:
        parser.error("--checkpoint and --random need --out FILE.onnx")
    if args.random != bool(args.arch):
        parser.error("--random and --arch go together")
    try:
        if args.checkpoint:
            print(export_checkpoint(args.checkpoint, args.out, args.name, opset=args.opset))
        elif args.random:
            print(export_random(args.arch, args.out, args.width, opset=args.opset))
    except (ExportError, ModelError, KeyError, ValueError, FileNotFoundError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    for path in args.models:
        print(f"{path}: {json.dumps(read_metadata(path), sort_keys=True)}")
    status = 0
    if args.verify is not None:
        try:
            models = read_models(args.verify)
        except ModelError as exc:
            print(f"verify failed: {exc}", file=sys.stderr)
            return 1
        # each model and its precision siblings (models.json "variants", export/quantize.py)
        for name, m in [item for model in models
                        for item in ((model.name, model), *((v.label, v) for v in model.variants.values()))]:
            ok = m.file.is_file() and m.file.stat().st_size == m.size_bytes and sha256_of(m.file) == m.sha256
            print(f"{'ok  ' if ok else 'FAIL'} {name} ({m.file.name})")
            status |= 0 if ok else 1
    if not (args.models or args.verify or args.checkpoint or args.random):
        parser.print_help()
    return status


if __name__ == "__main__":
    sys.exit(main())
