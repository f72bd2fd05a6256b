"""The EuroMine model contract, defined once for the engine that runs models and the exporter
that writes them (docs/model-contract.md): the metadata key, the tasks and their tensor
layouts, the defaults, and the one validation of a model's metadata."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import release
from ..errors import ModelError

# The metadata_props entry of an .onnx file that holds the contract as JSON.
METADATA_KEY = "euromine"
# The name the exporter gives the output; the engine reads a model's first output whatever its name.
OUTPUT_NAME = "logits"
OUTPUTS = ("logits", "probabilities")
# Axes that stay symbolic in an exported graph: batch, years, rows, columns.
DYNAMIC_AXES = ("N", "T", "H", "W")


@dataclass(frozen=True)
class Task:
    """One row of the task table: what a model of this task takes and returns."""

    inputs: tuple[str, ...]  # graph input names the exporter writes
    images_per_sample: int  # co-registered images in one sample; 0: every year given
    classes: tuple[str, ...]  # default class names
    input_layout: tuple[str, ...]  # axes of each input
    output_layout: tuple[str, ...]  # axes of the output; K = classes

    @property
    def dynamic_axes(self) -> dict[int, str]:
        """Symbolic axes of every input (and, at the same positions, of the output)."""
        return {i: axis for i, axis in enumerate(self.input_layout) if axis in DYNAMIC_AXES}

    @property
    def class_axis(self) -> int:
        """Position of the class axis K in the output."""
        return self.output_layout.index("K")


FOOTPRINT_CLASSES = ("background", "mining")
CHANGE_CLASSES = ("no_change", "change")
# The class whose probability the engine maps, by name, in order of preference.
POSITIVE_CLASSES = (FOOTPRINT_CLASSES[-1], CHANGE_CLASSES[-1])
TASK_TABLE: Mapping[str, Task] = MappingProxyType({
    "footprint": Task(("image",), 1, FOOTPRINT_CLASSES, ("N", "C", "H", "W"), ("N", "K", "H", "W")),
    # A change model may also take the two images stacked as one (N, 2C, H, W) input.
    "change": Task(("before", "after"), 2, CHANGE_CLASSES, ("N", "C", "H", "W"), ("N", "K", "H", "W")),
    "footprint_series": Task(("image",), 0, FOOTPRINT_CLASSES, ("N", "T", "C", "H", "W"), ("N", "T", "K", "H", "W")),
})
TASKS = tuple(TASK_TABLE)
# Tasks whose models map annual footprints: per-year models and series models (all years at once).
FOOTPRINT_TASKS = tuple(name for name, task in TASK_TABLE.items() if task.classes == FOOTPRINT_CLASSES)

# Fields without a default: the normalization, which a user may give instead (NormalizationOverride).
NORMALIZATION_FIELDS = ("bands", "mean", "std")
DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "task": "footprint", "patch_size": release.PATCH_SIZE, "output": OUTPUTS[0],
    "trained_on": "unknown", "license": "unknown", "version": "unknown",
    "receptive_field": None, "tolerant_receptive_field": None, "alignment": 1,
})
FIELDS = ("name", "task", *NORMALIZATION_FIELDS, "patch_size", "classes", "output", "trained_on", "license",
          "version", "receptive_field", "tolerant_receptive_field", "alignment")
# The largest probability difference the measured receptive field allows between a tile's output at
# that distance from a cut edge and whole-scene inference (core/engine/receptive_field.py): the
# field TILE_OVERLAP=exact tiles by.
RECEPTIVE_FIELD_TOLERANCE = 1e-6
# The largest probability difference between tiled and whole-scene inference that the default tiling
# allows (the tolerant receptive field, measured at export on generated held-out sites by tiling them
# as the engine does, export/tolerant_field.py). A pixel can change class only where its whole-scene
# probability lies within this of THRESHOLD, and only near tile seams: each model card counts those
# pixels on held-out sites. A trained model's influence falls off steeply at the edge of its field,
# so tighter tolerances barely narrow it and cost nearly as much (unet_footprint: 217 px at 1e-6,
# 194 at 1e-4, 159 at 1e-3, from receptive_field.measure(model, tolerance, site_scenes(model.info))).
TOLERANT_FIELD_TOLERANCE = 5e-2


@dataclass(frozen=True)
class NormalizationOverride:
    """Bands / mean / std given by the user for a model that lacks (or should not use) metadata."""

    bands: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


def _problems(meta: Mapping[str, Any]) -> list[str]:
    """One message for each field of ``meta`` that breaks the contract."""
    problems = []
    if meta["task"] not in TASKS:
        problems.append(f"unknown task '{meta['task']}' (expected one of {', '.join(TASKS)})")
    if meta["output"] not in OUTPUTS:
        problems.append(f"output must be 'logits' or 'probabilities', got '{meta['output']}'")
    lengths = {k: len(meta[k]) if isinstance(meta[k], (list, tuple)) else None for k in NORMALIZATION_FIELDS}
    if None in lengths.values():
        problems.append(f"bands, mean and std must be lists, got {', '.join(type(meta[k]).__name__ for k in lengths)}")
    elif len(set(lengths.values())) > 1:
        problems.append("bands ({bands}), mean ({mean}) and std ({std}) differ in length".format(**lengths))
    elif not _finite(meta["mean"]):
        problems.append(f"every mean must be a finite number, got {list(meta['mean'])}")
    elif not _finite(meta["std"]) or any(float(s) <= 0 for s in meta["std"]):
        problems.append(f"every std must be positive, got {list(meta['std'])}")
    classes = meta["classes"]
    if not isinstance(classes, (list, tuple)) or len(classes) < 2 or len(set(classes)) < len(classes):
        problems.append(f"classes must name at least two distinct classes, got {classes!r}")
    size = meta["patch_size"]
    if not _whole(size, 1):
        problems.append(f"patch_size must be a positive whole number of pixels, got {size!r}")
    if meta["receptive_field"] is not None and not _whole(meta["receptive_field"], 0):
        problems.append("receptive_field must be null or a whole number of pixels >= 0, "
                        f"got {meta['receptive_field']!r}")
    if meta["tolerant_receptive_field"] is not None and not _whole(meta["tolerant_receptive_field"], 0):
        problems.append("tolerant_receptive_field must be null or a whole number of pixels >= 0, "
                        f"got {meta['tolerant_receptive_field']!r}")
    if not _whole(meta["alignment"], 1):
        problems.append(f"alignment must be a positive whole number of pixels, got {meta['alignment']!r}")
    return problems


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _finite(values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


@dataclass(frozen=True)
class ModelInfo:
    """What the model contract says about one model: its metadata, checked and with defaults."""

    name: str
    task: str
    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    patch_size: int = DEFAULTS["patch_size"]
    classes: tuple[str, ...] = FOOTPRINT_CLASSES
    output: str = DEFAULTS["output"]
    trained_on: str = DEFAULTS["trained_on"]
    license: str = DEFAULTS["license"]
    version: str = DEFAULTS["version"]
    # Pixels from a tile's cut edge beyond which its output equals whole-scene inference to
    # RECEPTIVE_FIELD_TOLERANCE (None: unknown or unbounded), and the shift, in pixels, under which
    # the model's output shifts with its input (2^levels for a U-Net-like model), both measured at export.
    receptive_field: int | None = DEFAULTS["receptive_field"]
    # Pixels from a cut edge beyond which tiled output stays within TOLERANT_FIELD_TOLERANCE of
    # whole-scene inference (None: not measured; the engine then tiles by receptive_field).
    tolerant_receptive_field: int | None = DEFAULTS["tolerant_receptive_field"]
    alignment: int = DEFAULTS["alignment"]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # fields the contract does not name

    @classmethod
    def from_json(
        cls,
        metadata: str | Mapping[str, Any] | None,
        source: str | Path,
        override: NormalizationOverride = NormalizationOverride(),
        complete: bool = False,
    ) -> ModelInfo:
        """Check ``metadata`` (the JSON text, or its dict; None when a model has none) against the
        contract and fill the defaults; ModelError naming ``source`` with every problem found.

        ``override`` replaces the normalization fields (a model without metadata runs when all
        three are given). ``complete`` demands every field of the contract: the exporter writes
        complete metadata, the engine accepts defaults for all but the normalization.
        """
        meta = _as_dict(metadata, source)
        for key in NORMALIZATION_FIELDS:
            given = getattr(override, key)
            if given:
                meta[key] = list(given)
        missing = [k for k in FIELDS if k not in meta] if complete else []
        if missing:
            raise ModelError(f"{source}: metadata '{METADATA_KEY}' lacks {', '.join(missing)} "
                             "(model contract, docs/model-contract.md)")
        if any(not meta.get(k) for k in NORMALIZATION_FIELDS):
            raise ModelError(
                f"{source}: the model carries no '{METADATA_KEY}' metadata with bands, mean and std; "
                "give them as algorithm parameters (BANDS, MEAN, STD) or export the model with "
                "the EuroMine metadata contract"
            )
        task = meta.setdefault("task", DEFAULTS["task"])
        meta.setdefault("classes", list(TASK_TABLE.get(task, TASK_TABLE[DEFAULTS["task"]]).classes))
        for key, value in DEFAULTS.items():
            meta.setdefault(key, value)
        problems = _problems(meta)
        if problems:
            raise ModelError(f"{source}: " + "; ".join(problems))
        return cls(
            name=str(meta.get("name", Path(source).stem)),
            task=task,
            bands=tuple(str(b) for b in meta["bands"]),
            mean=tuple(float(v) for v in meta["mean"]),
            std=tuple(float(v) for v in meta["std"]),
            patch_size=meta["patch_size"],
            classes=tuple(str(c) for c in meta["classes"]),
            output=meta["output"],
            trained_on=str(meta["trained_on"]),
            license=str(meta["license"]),
            version=str(meta["version"]),
            receptive_field=meta["receptive_field"],
            tolerant_receptive_field=meta["tolerant_receptive_field"],
            alignment=meta["alignment"],
            extra={k: v for k, v in meta.items() if k not in FIELDS},
        )

    def as_dict(self) -> dict[str, Any]:
        """The metadata as a JSON-able dict: every contract field, then any extra field."""
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in FIELDS)}
        return {**self.extra, **fields}

    def to_json(self) -> str:
        """The metadata as the canonical JSON text an exported file carries."""
        return json.dumps(self.as_dict(), sort_keys=True, allow_nan=False)

    @property
    def spec(self) -> Task:
        """This model's row of the task table."""
        return TASK_TABLE[self.task]

    @property
    def positive_class(self) -> int:
        """Index of the class whose probability the engine maps: "mining" for footprint models,
        "change" for change models, else the last class."""
        for name in POSITIVE_CLASSES:
            if name in self.classes:
                return self.classes.index(name)
        return len(self.classes) - 1

    @property
    def images_per_sample(self) -> int:
        """How many co-registered images one sample stacks: 2 (before, after) for change models,
        1 for footprint models, 0 for series models (they take every year they are given)."""
        return self.spec.images_per_sample

    @property
    def series(self) -> bool:
        """True for footprint_series models: (N, T, C, H, W) in, one map per year out."""
        return self.task == "footprint_series"

    @property
    def synthetic(self) -> bool:
        """True when the weights were trained on generated (synthetic) sites."""
        return "synthetic" in self.trained_on.lower()


def _as_dict(metadata: str | Mapping[str, Any] | None, source: str | Path) -> dict[str, Any]:
    if metadata is None or metadata == "":
        return {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source}: metadata '{METADATA_KEY}' is not valid JSON ({exc})") from exc
    if not isinstance(metadata, Mapping):
        raise ModelError(f"{source}: metadata '{METADATA_KEY}' must be a JSON object")
    return dict(metadata)


def normalize_in_place(x: NDArray[np.float32], mean: Sequence[float], std: Sequence[float]) -> NDArray[np.float32]:
    """Z-score a float32 (N, C·images, H, W) batch of raw band values in place with per-band
    ``mean`` and ``std`` (images stacked on the band axis each use them); return it."""
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        raise ValueError("normalize_in_place needs a C-contiguous float32 array")
    per_image = x.reshape(-1, len(mean), *x.shape[2:])  # a view: x is contiguous
    normalize_into(per_image, per_image, mean, std)
    return x


def normalize_into(out: NDArray[np.float32], raw: NDArray[Any], mean: Sequence[float],
                   std: Sequence[float]) -> NDArray[np.float32]:
    """Z-score raw band values (..., C, H, W) into float32 ``out`` of the same shape with per-band
    ``mean`` and ``std``: (raw − mean) × (1 / std) in float32. The cast rides on the subtraction,
    so a block of integer values is read once and ``out`` passed over twice; return ``out``."""
    np.subtract(raw, np.asarray(mean, np.float32).reshape(-1, 1, 1), out=out)
    out *= (1.0 / np.asarray(std, np.float32)).reshape(-1, 1, 1)
    return out


def model_inputs(batch: NDArray[np.float32], info: ModelInfo, count: int) -> list[NDArray[np.float32]]:
    """The arrays a model of ``count`` inputs takes for a normalized (N, C·images, H, W) batch: a
    series model gets it as (N, T, C, H, W), a two-input change model the before and after halves."""
    if info.series:
        n, tc, h, w = batch.shape
        return [batch.reshape(n, tc // len(info.bands), -1, h, w)]
    if count == 1:
        return [batch]
    half = batch.shape[1] // 2
    return [np.ascontiguousarray(batch[:, :half]), np.ascontiguousarray(batch[:, half:])]
