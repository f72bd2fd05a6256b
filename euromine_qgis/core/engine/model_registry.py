"""models.json, the registry of a models folder: its schema, reading it into typed entries, and
writing it (add or replace an entry by name) so that the same models give the same bytes.

Every reader (the bundled models, the change routes, ``euromine models``) and every writer
(``export.onnx``, ``export.zoo``, ``export.spectral``) goes through this module. A malformed file or
entry is a ModelError naming the file and the problem.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..io.checksum import sha256_of
from .contract import TASK_TABLE

INDEX_NAME = "models.json"
SYNTHETIC_LABEL = "trained on synthetic sites — retrain on EuroMineNet for real analysis"

# What every entry states; register_model computes CHECKSUM_KEYS from the file itself.
ENTRY_KEYS = (
    "name", "file", "task", "architecture", "display_name", "trained_on", "synthetic_training",
    "license", "version", "provenance", "description",
)
PROVENANCE_KEYS = ("command", "seed", "torch", "onnx_opset", "exporter")
CHECKSUM_KEYS = ("sha256", "size_bytes")
VARIANT_KEYS = ("precision", "parent", "file", *CHECKSUM_KEYS)


@dataclass(frozen=True)
class FieldRecord:
    """The receptive fields and alignment measured at export (provenance.receptive_field): the exact
    field, and the tolerant one the default tiling follows with its tolerance and what that tiling
    did on held-out sites (``tolerant_check``: sites, max_difference, threshold,
    pixels_changed_class, pixels), None where not measured."""

    receptive_field: int | None
    alignment: int | None
    tolerant_receptive_field: int | None = None
    tolerant_tolerance: float | None = None
    tolerant_check: dict[str, Any] | None = None


@dataclass(frozen=True)
class Provenance:
    """How a model file was made (an entry's ``provenance``)."""

    command: str
    seed: int | None
    torch: str
    onnx_opset: int
    exporter: str
    receptive_field: FieldRecord | None


@dataclass(frozen=True)
class Variant:
    """A reduced-precision sibling of a model (an entry's ``variants[precision]``)."""

    precision: str
    parent: str
    file: Path
    sha256: str
    size_bytes: int
    record: dict[str, Any]  # the sibling as models.json holds it

    @property
    def label(self) -> str:
        """The sibling's name in listings, e.g. ``unet_footprint int8``."""
        return f"{self.parent.removesuffix('.onnx')} {self.precision}"


@dataclass(frozen=True)
class ModelEntry:
    """One entry of models.json, checked; ``file`` is the model's path in the models folder."""

    name: str
    display_name: str
    file: Path
    sha256: str
    size_bytes: int
    task: str
    synthetic_training: bool
    trained_on: str
    architecture: str
    license: str
    version: str
    description: str
    provenance: Provenance
    metrics: dict[str, Any]
    variants: dict[str, Variant]
    change_routes: dict[str, Any] | None
    record: dict[str, Any]  # the entry as models.json holds it, every key kept; change a copy

    @property
    def label(self) -> str:
        """What a user sees in a model list, with the synthetic-training warning where due."""
        text = f"{self.display_name} [{self.name}]"
        return f"{text} — {SYNTHETIC_LABEL}" if self.synthetic_training else text


class _Fields:
    """Typed access to one JSON object of models.json; a missing or mistyped key is a ModelError
    naming the file, the entry and the key."""

    def __init__(self, record: Mapping[str, Any], index: Path, where: str) -> None:
        self.record, self.index, self.where = record, index, where

    def fail(self, problem: str) -> ModelError:
        return ModelError(f"{self.index}: {self.where} {problem}")

    def _get(self, key: str, kinds: tuple[type, ...], noun: str, optional: bool) -> Any:
        value = self.record.get(key)
        if value is None and optional:
            return None
        # bool is an int in Python: a flag is not a count
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise self.fail(f"'{key}' must be {noun}, not {json.dumps(value, default=str)}")
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, (str,), "text", optional=False))

    def flag(self, key: str) -> bool:
        return bool(self._get(key, (bool,), "true or false", optional=False))

    def count(self, key: str) -> int:
        return int(self._get(key, (int,), "a whole number", optional=False))

    def optional_count(self, key: str) -> int | None:
        value = self._get(key, (int,), "a whole number or null", optional=True)
        return None if value is None else int(value)

    def optional_number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number or null", optional=True)
        return None if value is None else float(value)

    def table(self, key: str) -> dict[str, Any] | None:
        value = self._get(key, (dict,), "an object", optional=True)
        return None if value is None else dict(value)

    def file_name(self, key: str) -> str:
        name = self.text(key)
        if Path(name).name != name or name in ("", ".", ".."):
            raise self.fail(f"'{key}' must be a file name in the models folder, not '{name}'")
        return name

    def sha256(self) -> str:
        value = self.text("sha256")
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise self.fail(f"'sha256' must be 64 lowercase hex digits, not '{value}'")
        return value


def index_path(models_dir: Path) -> Path:
    """The registry file of a models folder."""
    return Path(models_dir) / INDEX_NAME


def _missing(record: Mapping[str, Any], keys: Iterable[str], prefix: str = "") -> list[str]:
    return [f"{prefix}{k}" for k in keys if k not in record]


def _variant(precision: str, record: Any, folder: Path, index: Path, model: str) -> Variant:
    where = f"model '{model}' variant '{precision}'"
    if not isinstance(record, dict):
        raise ModelError(f"{index}: {where} must be an object")
    missing = _missing(record, VARIANT_KEYS)
    if missing:
        raise ModelError(f"{index}: {where} lacks {', '.join(missing)}")
    fields = _Fields(record, index, where)
    if fields.text("precision") != precision:
        raise fields.fail(f"is listed under '{precision}' but records precision '{record['precision']}'")
    return Variant(precision=precision, parent=fields.text("parent"), file=folder / fields.file_name("file"),
                   sha256=fields.sha256(), size_bytes=fields.count("size_bytes"), record=record)


def _entry(record: Any, folder: Path, index: Path, position: int) -> ModelEntry:
    """The typed entry of one models.json object (``position`` counts from 1, for messages)."""
    if not isinstance(record, dict):
        raise ModelError(f"{index}: entry {position} must be an object")
    name = record.get("name")
    where = f"model '{name}'" if isinstance(name, str) else f"entry {position}"
    provenance = record.get("provenance")
    missing = _missing(record, (*ENTRY_KEYS, *CHECKSUM_KEYS))
    if isinstance(provenance, dict):
        missing += _missing(provenance, PROVENANCE_KEYS, "provenance.")
    if missing:
        raise ModelError(f"{index}: {where} lacks {', '.join(missing)}")
    fields = _Fields(record, index, where)
    task = fields.text("task")
    if task not in TASK_TABLE:
        raise fields.fail(f"has task '{task}'; tasks: {', '.join(TASK_TABLE)}")
    if not isinstance(provenance, dict):
        raise fields.fail(f"'provenance' must be an object, not {json.dumps(provenance, default=str)}")
    made = _Fields(provenance, index, f"{where} provenance")
    field_record = made.table("receptive_field")
    measured = None
    if field_record is not None:
        field_fields = _Fields(field_record, index, f"{where} provenance.receptive_field")
        measured = FieldRecord(field_fields.optional_count("receptive_field"), field_fields.optional_count("alignment"),
                               field_fields.optional_count("tolerant_receptive_field"),
                               field_fields.optional_number("tolerant_tolerance"), field_fields.table("tolerant_check"))
    variants = fields.table("variants") or {}
    return ModelEntry(
        name=fields.text("name"),
        display_name=fields.text("display_name"),
        file=folder / fields.file_name("file"),
        sha256=fields.sha256(),
        size_bytes=fields.count("size_bytes"),
        task=task,
        synthetic_training=fields.flag("synthetic_training"),
        trained_on=fields.text("trained_on"),
        architecture=fields.text("architecture"),
        license=fields.text("license"),
        version=fields.text("version"),
        description=fields.text("description"),
        provenance=Provenance(
            command=made.text("command"), seed=made.optional_count("seed"), torch=made.text("torch"),
            onnx_opset=made.count("onnx_opset"), exporter=made.text("exporter"), receptive_field=measured,
        ),
        metrics=fields.table("metrics") or {},
        variants={p: _variant(p, v, folder, index, str(name)) for p, v in variants.items()},
        change_routes=fields.table("change_routes"),
        record=record,
    )


def read_models(models_dir: Path) -> list[ModelEntry]:
    """Every entry of ``models_dir``'s models.json, checked, in the file's order."""
    index = index_path(models_dir)
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{index}: cannot read the bundled model list ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ModelError(f"{index}: cannot read the bundled model list (no \"models\" list at the top)")
    entries = [_entry(record, Path(models_dir), index, i) for i, record in enumerate(data["models"], 1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ModelError(f"{index}: model '{entry.name}' is listed twice")
        seen.add(entry.name)
    return entries


def find_model(models_dir: Path, name: str) -> ModelEntry:
    """The entry named ``name`` in ``models_dir``'s models.json."""
    for entry in read_models(models_dir):
        if entry.name == name:
            return entry
    raise ModelError(f"{index_path(models_dir)} has no model named '{name}'")


def write_models(models_dir: Path, entries: Sequence[ModelEntry]) -> Path:
    """Write ``entries`` as ``models_dir``'s models.json, sorted by name with sorted keys (the same
    models give the same bytes), under a temporary name renamed onto the file."""
    index = index_path(models_dir)
    records = [e.record for e in sorted(entries, key=lambda e: e.name)]
    text = json.dumps({"models": records}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = index.with_name(f".{index.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, index)
    finally:
        tmp.unlink(missing_ok=True)
    return index


def register_model(models_dir: Path, entry: Mapping[str, Any]) -> ModelEntry:
    """Add or replace (by name) ``entry`` in ``models_dir``'s models.json.

    ``sha256`` and ``size_bytes`` are computed from the file ``entry["file"]`` names in
    ``models_dir``; the entry is checked like every entry read (a ModelError names the file and
    what is wrong) before anything is written.
    """
    models_dir = Path(models_dir)
    index = index_path(models_dir)
    provenance = entry.get("provenance")
    missing = _missing(entry, ENTRY_KEYS)
    missing += _missing(provenance if isinstance(provenance, Mapping) else {}, PROVENANCE_KEYS, "provenance.")
    if missing:
        raise ModelError(f"{index}: entry '{entry.get('name')}' lacks {', '.join(missing)}")
    name = _Fields(entry, index, f"model '{entry['name']}'").file_name("file")
    file = models_dir / name
    if not file.is_file():
        raise ModelError(f"{index}: '{name}' must be the name of a file in {models_dir}")
    record = dict(entry, sha256=sha256_of(file), size_bytes=file.stat().st_size)
    added = _entry(record, models_dir, index, 1)
    kept = [e for e in read_models(models_dir) if e.name != added.name] if index.is_file() else []
    write_models(models_dir, [*kept, added])
    return added
