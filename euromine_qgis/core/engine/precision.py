"""PRECISION: which numeric precision of a model runs (fp32, an int8 or fp16 sibling file), and
the measured choice behind ``auto`` with its cache.

A sibling is a file next to its parent named ``NAME.int8.onnx`` or ``NAME.fp16.onnx``
(export/quantize.py writes them) whose metadata under VARIANT_KEY records its precision, its
parent's sha256 and its argmax agreement with the parent; a sibling that does not name this
parent's sha256 is refused. int8 runs anywhere; fp16 only on CUDA (the fp16 sibling) and
TensorRT (the parent with TensorRT's fp16 flag).

``auto`` never assumes a precision is faster: on first use of a model on a machine and provider
it times each candidate (the caller's timer, on a small tile so that the verdict costs well under a
second and little memory) and keeps the fastest whose agreement is within MIN_AGREEMENT, caching
the verdict by the model's sha256, provider, device name (with the CPU's int8-relevant instruction
sets) and onnxruntime version in ``cache_dir()`` (EUROMINE_CACHE_DIR overrides it). An unreadable
cache is measured anew.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .devices import CUDA, TENSORRT

PRECISIONS = ("auto", "fp32", "int8", "fp16")
REDUCED = ("int8", "fp16")
VARIANT_KEY = "euromine_variant"
# Pixels whose class a sibling may change against its parent (export/quantize.py refuses to write
# one below it; auto skips one that records less).
MIN_AGREEMENT = 0.995
# A reduced precision replaces fp32 only when it is faster by more than the timing noise of a busy
# machine: it costs a little accuracy, so a tie goes to fp32.
MIN_SPEEDUP = 1.05
CACHE_ENV = "EUROMINE_CACHE_DIR"
CACHE_FILE = "precision.json"
FP16_PROVIDERS = (CUDA, TENSORRT)


def sibling_path(parent: Path, precision: str) -> Path:
    """Where the ``precision`` sibling of the model file ``parent`` lives."""
    return Path(parent).with_name(f"{Path(parent).stem}.{precision}.onnx")


def sibling_record(raw: str | None, sibling: Path, parent_sha256: str) -> dict[str, Any]:
    """The VARIANT_KEY record of ``sibling`` (its metadata text ``raw``), checked to belong to the
    parent whose sha256 is ``parent_sha256``."""
    try:
        record = json.loads(raw) if raw else None
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("precision") not in REDUCED:
        raise ModelError(f"{sibling}: not a precision sibling (no valid '{VARIANT_KEY}' metadata); "
                         "make it with python -m export.quantize")
    if record.get("parent_sha256") != parent_sha256:
        raise ModelError(f"{sibling}: made from another model (parent sha256 {record.get('parent_sha256')}, "
                         f"this model's is {parent_sha256}); make it anew with python -m export.quantize")
    return record


def check_requested(precision: str, provider: str, parent: Path) -> None:
    """A ModelError for a PRECISION that cannot run on ``provider``: an unknown name, or fp16
    outside CUDA and TensorRT."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision '{precision}' (expected one of {', '.join(PRECISIONS)})")
    if precision == "fp16" and provider not in FP16_PROVIDERS:
        raise ModelError(f"{parent}: PRECISION=fp16 needs CUDAExecutionProvider or TensorrtExecutionProvider; "
                         f"this run has {provider}: choose fp32, int8 or auto")


def candidate_files(parent: Path, provider: str) -> dict[str, Path]:
    """Precision -> file that could run on ``provider``: fp32 (the parent) always; int8 where its
    sibling exists; fp16 on TensorRT (the parent with the fp16 flag) or CUDA (its sibling)."""
    files = {"fp32": parent}
    if sibling_path(parent, "int8").is_file():
        files["int8"] = sibling_path(parent, "int8")
    if provider == TENSORRT:
        files["fp16"] = parent
    elif provider == CUDA and sibling_path(parent, "fp16").is_file():
        files["fp16"] = sibling_path(parent, "fp16")
    return files


def requested_file(parent: Path, precision: str, provider: str) -> Path:
    """The file that runs an explicit PRECISION on ``provider`` (check_requested first)."""
    check_requested(precision, provider, parent)
    files = candidate_files(parent, provider)
    if precision not in files:
        raise ModelError(f"{sibling_path(parent, precision)}: PRECISION={precision} needs this {precision} "
                         f"sibling of {parent.name}; make it with python -m export.quantize {parent} --{precision}")
    return files[precision]


def cache_dir() -> Path:
    """The user's cache folder for EuroMine (EUROMINE_CACHE_DIR, else the platform's cache place)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "EuroMine" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "EuroMine"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "euromine"


@dataclass(frozen=True)
class Verdict:
    """The precision ``auto`` runs and the log's reason for it."""

    precision: str
    reason: str


@dataclass(frozen=True)
class Timing:
    """What auto's timer measured: median seconds per run of each candidate on one tile of ``side``
    pixels, the runs each candidate made (its warm-up included) and the pixels of every run it
    made (the runs that chose the side included)."""

    seconds: Mapping[str, float]
    side: int
    runs: int
    pixels: int


def speeds_text(seconds: Mapping[str, float]) -> str:
    """'fp32 1.00×, int8 0.90×': each candidate's speed over fp32 (higher is faster)."""
    return ", ".join(f"{p} {seconds['fp32'] / s:.2f}×" for p, s in seconds.items())


def fastest(seconds: Mapping[str, float]) -> str:
    """The candidate to run given seconds per batch: fp32 unless another is MIN_SPEEDUP faster."""
    best = min(seconds, key=seconds.__getitem__)
    return best if seconds["fp32"] >= MIN_SPEEDUP * seconds[best] else "fp32"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Replace the cache atomically; a cache that cannot be written only costs a measurement next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def auto_precision(candidates: Mapping[str, float | None], key: str, time: Callable[[list[str]], Timing],
                   cache: Path | None = None) -> Verdict:
    """The precision ``auto`` runs among ``candidates`` (precision -> recorded argmax agreement;
    None for fp32). Candidates below MIN_AGREEMENT are left out; with more than fp32 left, the
    verdict cached under ``key`` is used, else ``time(precisions)`` is measured and cached with
    what was timed (tile side and runs)."""
    within = [p for p, agreement in candidates.items() if agreement is None or agreement >= MIN_AGREEMENT]
    if within == ["fp32"]:
        return Verdict("fp32", "the only candidate on this provider (no reduced-precision sibling within the bounds)")
    path = (cache or cache_dir()) / CACHE_FILE
    data = _read_cache(path)
    entry = data.get(key)
    if isinstance(entry, dict) and entry.get("precision") in within and entry.get("candidates") == within:
        return Verdict(entry["precision"], f"cached from {entry.get('measured', '?')}: {entry.get('speeds', '?')}")
    timing = time(within)
    choice = fastest(timing.seconds)
    speeds = f"{speeds_text(timing.seconds)} on {timing.side}-px tiles"
    data[key] = {"precision": choice, "candidates": within, "speeds": speeds,
                 "seconds_per_tile": {p: round(s, 5) for p, s in timing.seconds.items()},
                 "timed": {"tile_side": timing.side, "runs_per_candidate": timing.runs, "pixels": timing.pixels},
                 "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    _write_cache(path, data)
    return Verdict(choice, f"measured: {speeds}")


def cache_key(sha256: str, provider: str, device: str, isa: Sequence[str], runtime_version: str) -> str:
    """What a cached verdict holds for: the model's bytes, the provider, the device and the
    instruction sets ``isa`` it offers (hardware.cpu_flags on a CPU: the same model name comes with
    and without VNNI), and onnxruntime."""
    flags = f" [{' '.join(isa)}]" if isa else ""
    return f"{sha256}|{provider}|{device}{flags}|onnxruntime {runtime_version}"
