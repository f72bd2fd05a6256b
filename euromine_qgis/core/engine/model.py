"""EuroMine ONNX models: the metadata contract, execution providers and the inference session."""
from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ..errors import ModelError, OutOfMemory
from .devices import GPU_PROVIDERS, device_name, execution_providers, provider_options

METADATA_KEY = "euromine"
TASKS = ("footprint", "change", "footprint_series")
TRT_CACHE = Path(tempfile.gettempdir()) / "euromine-trt-cache"
# How onnxruntime words an allocation failure (BFC arena, CUDA runtime, cuDNN workspace).
_OOM = re.compile(r"out of memory|failed to allocate|cudaErrorMemoryAllocation|CUDA failure 2\b|BFCArena", re.I)


@dataclass(frozen=True)
class ModelInfo:
    """What the model contract (DESIGN.md) says about one model file."""

    name: str
    task: str
    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    patch_size: int = 160
    classes: tuple[str, ...] = ("background", "mining")
    output: str = "logits"
    trained_on: str = "unknown"
    license: str = "unknown"
    version: str = "unknown"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def positive_class(self) -> int:
        """Index of the class whose probability the engine maps: "mining" for footprint models,
        "change" for change models, else the last class."""
        for name in ("mining", "change"):
            if name in self.classes:
                return self.classes.index(name)
        return len(self.classes) - 1

    @property
    def images_per_sample(self) -> int:
        """How many co-registered images one sample stacks: 2 (before, after) for change models,
        1 for footprint models, 0 for series models (they take every year they are given)."""
        return {"change": 2, "footprint": 1}.get(self.task, 0)

    @property
    def series(self) -> bool:
        """True for footprint_series models: (N, T, C, H, W) in, one map per year out."""
        return self.task == "footprint_series"

    @property
    def synthetic(self) -> bool:
        """True when the weights were trained on generated (synthetic) sites."""
        return "synthetic" in self.trained_on.lower()


@dataclass(frozen=True)
class NormalizationOverride:
    """Bands / mean / std given by the user for a model that lacks (or should not use) metadata."""

    bands: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


def _parse_metadata(path: Path, raw: str | None, override: NormalizationOverride) -> ModelInfo:
    meta: dict[str, Any] = {}
    if raw:
        try:
            meta = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}: metadata '{METADATA_KEY}' is not valid JSON ({exc})") from exc
        if not isinstance(meta, dict):
            raise ModelError(f"{path}: metadata '{METADATA_KEY}' must be a JSON object")
    bands = override.bands or meta.get("bands")
    mean = override.mean or meta.get("mean")
    std = override.std or meta.get("std")
    if not bands or not mean or not std:
        raise ModelError(
            f"{path}: the model carries no '{METADATA_KEY}' metadata with bands, mean and std; "
            "give them as algorithm parameters (BANDS, MEAN, STD) or export the model with "
            "the EuroMine metadata contract"
        )
    if not (len(bands) == len(mean) == len(std)):
        raise ModelError(
            f"{path}: bands ({len(bands)}), mean ({len(mean)}) and std ({len(std)}) differ in length"
        )
    if any(float(s) <= 0 for s in std):
        raise ModelError(f"{path}: every std must be positive, got {list(std)}")
    task = meta.get("task", "footprint")
    if task not in TASKS:
        raise ModelError(f"{path}: unknown task '{task}' (expected one of {', '.join(TASKS)})")
    output = meta.get("output", "logits")
    if output not in ("logits", "probabilities"):
        raise ModelError(f"{path}: output must be 'logits' or 'probabilities', got '{output}'")
    known = {f for f in ModelInfo.__dataclass_fields__ if f != "extra"}
    return ModelInfo(
        name=str(meta.get("name", path.stem)),
        task=task,
        bands=tuple(str(b) for b in bands),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        patch_size=int(meta.get("patch_size", 160)),
        classes=tuple(meta.get("classes", ("background", "mining"))),
        output=output,
        trained_on=str(meta.get("trained_on", "unknown")),
        license=str(meta.get("license", "unknown")),
        version=str(meta.get("version", "unknown")),
        extra={k: v for k, v in meta.items() if k not in known},
    )


class Model:
    """An onnxruntime session on a EuroMine model file, with its contract metadata.

    One instance is meant to be reused for every year and tile of a job.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        override: NormalizationOverride | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file does not exist")
        providers = execution_providers(device)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # The engine's reader, decoding and writer threads share the cores with onnxruntime; its
        # idle pool threads spinning between runs would starve them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=providers,
                provider_options=[provider_options(p, TRT_CACHE) for p in providers],
            )
        except Exception as exc:  # onnxruntime raises its own untyped pybind errors
            raise ModelError(f"{self.path}: not a usable ONNX model ({_short(exc)})") from exc
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        self.info = _parse_metadata(self.path, raw, override or NormalizationOverride())
        self.provider = self.session.get_providers()[0]
        self.device_name = device_name(self.provider)
        self._check_signature()
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        # On a GPU, IO binding hands onnxruntime the input once and syncs once per batch.
        self._io_binding = self.provider in GPU_PROVIDERS
        self._mean = np.asarray(self.info.mean, np.float32).reshape(1, -1, 1, 1)
        self._inv_std = (1.0 / np.asarray(self.info.std, np.float32)).reshape(1, -1, 1, 1)

    def _check_signature(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        bands = len(self.info.bands)
        if len(outputs) < 1:
            raise ModelError(f"{self.path}: the model has no output")
        if self.info.series:
            shape = inputs[0].shape
            if len(inputs) != 1 or len(shape) != 5:
                raise ModelError(f"{self.path}: a footprint_series model takes one (N, T, C, H, W) input, "
                                 f"this one has {len(inputs)} input(s) of shape {shape}")
            if isinstance(shape[2], int) and shape[2] != bands:
                raise ModelError(f"{self.path}: input '{inputs[0].name}' takes {shape[2]} bands per year but the "
                                 f"metadata lists {bands} ({', '.join(self.info.bands)})")
            return
        # footprint: one (N, C, H, W) input; change: (before, after) as two inputs or one (N, 2C, H, W)
        expected = [bands] if self.info.task == "footprint" else ([bands, bands] if len(inputs) == 2 else [2 * bands])
        if len(inputs) != len(expected):
            raise ModelError(
                f"{self.path}: a {self.info.task} model takes {'one input' if self.info.task == 'footprint' else 'one or two inputs'}, "
                f"this one has {len(inputs)}"
            )
        for put, channels in zip(inputs, expected):
            shape = put.shape
            if len(shape) != 4:
                raise ModelError(f"{self.path}: input '{put.name}' must be (N, C, H, W), the model declares {shape}")
            if isinstance(shape[1], int) and shape[1] != channels:
                raise ModelError(
                    f"{self.path}: input '{put.name}' takes {shape[1]} channels but the metadata's "
                    f"{bands} bands ({', '.join(self.info.bands)}) make {channels}"
                )

    @property
    def description(self) -> str:
        """One line for logs: name, provider, and the synthetic-training label where it applies."""
        label = " [trained on synthetic sites — retrain on EuroMineNet for real analysis]"
        return (
            f"{self.info.name} v{self.info.version} ({self.path.name}) on {self.provider} ({self.device_name})"
            + (label if self.info.synthetic else "")
        )

    def normalize(self, raw: np.ndarray) -> np.ndarray:
        """Z-score a (N, C, H, W) batch of raw band values with the model's mean and std."""
        return self.normalize_in_place(raw.astype(np.float32))

    def normalize_in_place(self, x: np.ndarray) -> np.ndarray:
        """Z-score a float32 (N, C·images, H, W) batch in place (images stacked on the band axis
        each use the model's per-band mean and std); return it."""
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            raise ValueError("normalize_in_place needs a C-contiguous float32 array")
        per_image = x.reshape(-1, len(self.info.bands), *x.shape[2:])  # a view: x is contiguous
        per_image -= self._mean
        per_image *= self._inv_std
        return x

    def _feeds(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Input name -> array: a two-input change model gets the before and after halves; a
        series model gets the (N, T·C, H, W) stack as (N, T, C, H, W)."""
        if self.info.series:
            n, tc, h, w = batch.shape
            return {self.input_names[0]: batch.reshape(n, tc // len(self.info.bands), -1, h, w)}
        if len(self.input_names) == 1:
            return {self.input_names[0]: batch}
        half = batch.shape[1] // 2
        return {self.input_names[0]: np.ascontiguousarray(batch[:, :half]),
                self.input_names[1]: np.ascontiguousarray(batch[:, half:])}

    def _run(self, batch: np.ndarray) -> np.ndarray:
        try:
            if not self._io_binding:
                return self.session.run([self.output_name], self._feeds(batch))[0]
            binding = self.session.io_binding()
            for name, array in self._feeds(batch).items():
                binding.bind_cpu_input(name, array)
            binding.bind_output(self.output_name, "cpu")
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0]
        except Exception as exc:  # onnxruntime raises untyped pybind errors
            if _OOM.search(str(exc)):
                raise OutOfMemory(f"{self.path}: out of memory on {self.provider} with a batch of {len(batch)} tiles") from exc
            raise ModelError(f"{self.path}: inference failed on {self.provider} ({_short(exc)})") from exc

    def positive_probability(self, batch: np.ndarray) -> np.ndarray:
        """Run a normalized (N, C·images, H, W) float32 batch; return (N, H, W) probabilities of
        the positive class (mining, or change for change models), or (N, T, H, W) for a series
        model given T images per sample."""
        out = self._run(batch)
        if self.info.series:
            steps = batch.shape[1] // len(self.info.bands)
            if out.ndim != 5 or out.shape[:2] != (batch.shape[0], steps):
                raise ModelError(f"{self.path}: output shape {out.shape} does not match input "
                                 f"({batch.shape[0]}, {steps}, ...); expected (N, T, K, H, W)")
            per_year = self._positive(out.reshape(-1, *out.shape[2:]), batch.shape[0] * steps, batch.shape[2:])
            return per_year.reshape(batch.shape[0], steps, *per_year.shape[1:])
        return self._positive(out, batch.shape[0], batch.shape[2:])

    def _positive(self, out: np.ndarray, n: int, size: tuple[int, ...]) -> np.ndarray:
        """(n, H, W) positive-class probabilities from a (n, K, H, W) model output."""
        classes = len(self.info.classes)
        # K = 1: one channel holding the positive class alone (a logit or a probability)
        if out.ndim != 4 or out.shape[0] != n or out.shape[2:] != size or out.shape[1] not in (1, classes):
            raise ModelError(
                f"{self.path}: output shape {out.shape} does not match {n} input tile(s) of {size}; "
                f"expected (N, K, H, W) with K = {classes} (classes {', '.join(self.info.classes)}) or 1"
            )
        k = self.info.positive_class if out.shape[1] > 1 else 0
        if self.info.output == "probabilities":
            return out[:, k]
        if out.shape[1] == 1:
            return _sigmoid(out[:, 0])
        # softmax probability of class k, computed stably
        shifted = out - out.max(axis=1, keepdims=True)
        np.exp(shifted, out=shifted)
        return shifted[:, k] / shifted.sum(axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__

