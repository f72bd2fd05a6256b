"""EuroMine ONNX models: an onnxruntime session on a model file, checked against the model contract."""
from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from ..errors import ModelError, OutOfMemory, first_line
from ..io.checksum import sha256_of
from .bundled import SYNTHETIC_LABEL
from .contract import METADATA_KEY, ModelInfo, NormalizationOverride, model_inputs, normalize_in_place
from .devices import CPU, GPU_PROVIDERS, TENSORRT, device_name, execution_providers, provider_fallback, provider_options
from .hardware import cpu_flags
from .precision import (
    PRECISIONS,
    VARIANT_KEY,
    Timing,
    Verdict,
    auto_precision,
    cache_key,
    candidate_files,
    requested_file,
    sibling_record,
)
from .scaling import scaled_info

TRT_CACHE = Path(tempfile.gettempdir()) / "euromine-trt-cache"
# What auto times on first use: one tile, batch 1, its side the run's tile capped at TIMED_SIDE px
# and chosen so that an fp32 run takes about TIMED_RUN_S (estimated from two runs on a PROBE_SIDE
# tile; a full-size tile costs seconds and a gigabyte of activations); one warm-up run per
# candidate, then TIMED_ROUNDS interleaved runs, stopping after MIN_TIMED_ROUNDS once the timed runs
# took TIMED_BUDGET_S; a series model's stack has TIMED_YEARS years.
TIMED_SIDE = 256
PROBE_SIDE = 64
TIMED_RUN_S = 0.04
TIMED_ROUNDS = 5
MIN_TIMED_ROUNDS = 3
TIMED_BUDGET_S = 0.5
TIMED_YEARS = 1
# What onnxruntime raises when a model or its run fails: a class per status code (each derives from
# Exception alone), the codes added after 1.16 where this version has them, and RuntimeError, which
# pybind11 makes of a C++ exception that onnxruntime throws outside its status codes (an execution
# provider's library failing to load, say; onnxruntime's own fallback catches it too).
ORT_ERRORS: tuple[type[Exception], ...] = (
    ort_state.Fail, ort_state.InvalidArgument, ort_state.NoSuchFile, ort_state.NoModel, ort_state.EngineError,
    ort_state.RuntimeException, ort_state.InvalidProtobuf, ort_state.ModelLoaded, ort_state.NotImplemented,
    ort_state.InvalidGraph, ort_state.EPFail, RuntimeError,
    *(getattr(ort_state, name) for name in ("ModelLoadCanceled", "ModelRequiresCompilation", "NotFound", "DeviceReset")
      if hasattr(ort_state, name)),
)
# How onnxruntime words an allocation failure (BFC arena, CUDA runtime, cuDNN workspace).
_OOM = re.compile(r"out of memory|failed to allocate|cudaErrorMemoryAllocation|CUDA failure 2\b|BFCArena", re.I)


class Model:
    """An onnxruntime session on a EuroMine model file, with its contract metadata.

    One instance is meant to be reused for every year and tile of a job.
    """

    def __init__(
        self,
        path: str | Path,
        device: str,
        override: NormalizationOverride | None = None,
        *,
        scale: float,
        precision: str = "fp32",
        intra_op_threads: int | None = None,
    ) -> None:
        """Open ``path`` on ``device`` with its metadata (``override`` replacing the normalization);
        ``scale`` multiplies every input value before normalization (SCALE, folded into it).
        ``precision`` (core.engine.precision.PRECISIONS) picks the file that runs: fp32 the file
        itself, int8/fp16 its verified sibling, auto the one measured fastest here.
        ``intra_op_threads`` caps onnxruntime's threads per run (None: one per core), for a process
        that shares the cores with others (a Dask worker)."""
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file does not exist")
        if precision not in PRECISIONS:
            raise ModelError(f"{self.path}: unknown precision '{precision}' (expected one of {', '.join(PRECISIONS)})")
        self.requested_device = device  # DEVICE as asked: what a Dask worker opening the same file asks for
        self._providers = execution_providers(device)
        self.intra_op_threads = intra_op_threads
        self.session = self._open(self.path)
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        self.info = scaled_info(ModelInfo.from_json(raw, self.path, override or NormalizationOverride()), scale)
        granted = self.session.get_providers()
        # onnxruntime drops a provider whose libraries do not load; an explicit DEVICE raises here
        self.fallback = provider_fallback(device, self._providers, granted, sys.platform)
        self.provider = granted[0]
        self.device_name = device_name(self.provider)
        self._check_signature()
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        # On a GPU, IO binding hands onnxruntime the input once and syncs once per batch.
        self._io_binding = self.provider in GPU_PROVIDERS
        self.precision, self.precision_reason = self._variant_of_own_file()
        if precision != "fp32" and self.precision == "fp32":
            self._choose_precision(precision)

    def _open(self, file: Path, fp16: bool = False) -> ort.InferenceSession:
        """An onnxruntime session on ``file`` with the engine's options (TensorRT's fp16 flag if asked)."""
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # The engine's reader, decoding and writer threads share the cores with onnxruntime; its
        # idle pool threads spinning between runs would starve them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory pattern: onnxruntime then plans one block for every tensor of a run at once,
        # 759 MB against 444 MB of peak for one 1344 x 1408 tile of unet_footprint, at the same speed.
        options.enable_mem_pattern = False
        if self.intra_op_threads:
            options.intra_op_num_threads = self.intra_op_threads
        # a TensorRT engine is built for one precision: fp16 engines get their own cache folder
        provider_settings = [provider_options(p, TRT_CACHE / "fp16" if fp16 else TRT_CACHE) for p in self._providers]
        if fp16 and self._providers[0] == TENSORRT:
            provider_settings[0] = dict(provider_settings[0], trt_fp16_enable="True")
        try:
            return ort.InferenceSession(str(file), options, providers=self._providers,
                                        provider_options=provider_settings)
        except ORT_ERRORS as exc:
            raise ModelError(f"{file}: not a usable ONNX model ({first_line(exc)})") from exc

    def _variant_of_own_file(self) -> tuple[str, str]:
        """A sibling opened by its own name (a Dask worker gets the file its client chose) runs at
        the precision its metadata records."""
        raw = self.session.get_modelmeta().custom_metadata_map.get(VARIANT_KEY)
        if raw is None:
            return "fp32", "asked for"
        try:
            precision = json.loads(raw)["precision"]
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelError(f"{self.path}: its '{VARIANT_KEY}' metadata is not a precision record ({exc})") from exc
        return precision, f"the file {self.path.name} is the {precision} sibling"

    def _choose_precision(self, precision: str) -> None:
        """Replace the fp32 session by the sibling ``precision`` names, or auto's measured choice."""
        parent = self.path
        parent_sha = sha256_of(parent)
        if precision == "auto":
            records, skipped = {}, []
            for candidate, file in candidate_files(parent, self.provider).items():
                try:
                    records[candidate] = self._sibling(parent, file, parent_sha, candidate)
                except ModelError as exc:  # e.g. a sibling left from before the model was retrained
                    skipped.append(f"skipped {exc}")
            sessions = {p: s for p, (s, _) in records.items()}
            isa = cpu_flags() if self.provider == CPU else ()
            key = cache_key(parent_sha, self.provider, self.device_name, isa, ort.__version__)
            verdict = auto_precision({p: r for p, (_, r) in records.items()}, key,
                                     lambda names: self._time_candidates({p: sessions[p] for p in names}))
            verdict = Verdict(verdict.precision, "; ".join([verdict.reason, *skipped]))
        else:
            file = requested_file(parent, precision, self.provider)
            sessions = {precision: self._sibling(parent, file, parent_sha, precision)[0]}
            verdict = Verdict(precision, "asked for")
        if verdict.precision != "fp32":
            self.session = sessions[verdict.precision]
            self.path = candidate_files(parent, self.provider)[verdict.precision]
            self.provider = self.session.get_providers()[0]
            self._check_signature()
        self.precision, self.precision_reason = verdict.precision, verdict.reason

    def _sibling(self, parent: Path, file: Path, parent_sha: str, precision: str
                 ) -> tuple[ort.InferenceSession, float | None]:
        """A session on the ``precision`` candidate ``file`` and its recorded argmax agreement (None:
        the parent itself, at fp32 or with TensorRT's fp16 flag)."""
        if precision == "fp32":
            return self.session, None
        session = self._open(file, fp16=precision == "fp16")
        if file == parent:
            return session, None
        record = sibling_record(session.get_modelmeta().custom_metadata_map.get(VARIANT_KEY), file, parent_sha)
        return session, float(record.get("argmax_agreement", 0.0))

    def _time_candidates(self, sessions: dict[str, ort.InferenceSession]) -> Timing:
        """Median seconds per run of each session on one tile (its side: _timed_side), interleaved
        in alternating order after one warm-up run each."""
        from .inference import TileSettings, resolve_tiling

        tiling = resolve_tiling(self.info, TileSettings(batch_size=0))
        probe = min(tiling.tile, max(tiling.alignment, PROBE_SIDE // tiling.alignment * tiling.alignment))
        probe_feeds = self._timing_feeds(probe)
        for _ in range(2):  # the first run of a shape also plans its memory
            start = time.perf_counter()
            sessions["fp32"].run([self.output_name], probe_feeds)
        per_pixel = (time.perf_counter() - start) / probe**2
        side = int((TIMED_RUN_S / max(per_pixel, 1e-12)) ** 0.5) // tiling.alignment * tiling.alignment
        side = max(probe, min(side, tiling.tile, TIMED_SIDE // tiling.alignment * tiling.alignment))
        feeds = self._timing_feeds(side)
        times: dict[str, list[float]] = {p: [] for p in sessions}
        order = list(sessions)
        for run in range(TIMED_ROUNDS + 1):
            for precision in order if run % 2 else reversed(order):
                start = time.perf_counter()
                sessions[precision].run([self.output_name], feeds)
                if run:
                    times[precision].append(time.perf_counter() - start)
            if run >= MIN_TIMED_ROUNDS and sum(map(sum, times.values())) >= TIMED_BUDGET_S:
                break
        return Timing({p: float(np.median(t)) for p, t in times.items()}, side, run + 1,
                      2 * probe**2 + len(sessions) * (run + 1) * side**2)

    def _timing_feeds(self, side: int) -> dict[str, NDArray[np.float32]]:
        """Input name -> array: one tile of ``side`` px of standard-normal values (a series model's
        with TIMED_YEARS years)."""
        images = self.info.spec.images_per_sample or TIMED_YEARS
        tile = np.random.default_rng(0).standard_normal((1, images * len(self.info.bands), side, side))
        return self._feeds(tile.astype(np.float32))

    def _check_signature(self) -> None:
        """The graph must take the task's inputs (contract.TASK_TABLE) with the metadata's bands."""
        inputs = self.session.get_inputs()
        if not self.session.get_outputs():
            raise ModelError(f"{self.path}: the model has no output")
        spec, bands = self.info.spec, len(self.info.bands)
        layout = f"({', '.join(spec.input_layout)})"
        channels = {len(spec.inputs): bands}  # input count -> channels of each input
        if self.info.task == "change":
            channels[1] = 2 * bands  # (before, after) stacked as one input
        if len(inputs) not in channels:
            counts = " or ".join(str(n) for n in sorted(channels))
            raise ModelError(f"{self.path}: a {self.info.task} model takes {counts} input(s) of {layout}, "
                             f"this one has {len(inputs)}")
        expected = channels[len(inputs)]
        for put in inputs:
            if len(put.shape) != len(spec.input_layout):
                raise ModelError(f"{self.path}: input '{put.name}' must be {layout}, the model declares {put.shape}")
            found = put.shape[spec.input_layout.index("C")]
            if isinstance(found, int) and found != expected:
                raise ModelError(
                    f"{self.path}: input '{put.name}' takes {found} channels but the metadata's "
                    f"{bands} bands ({', '.join(self.info.bands)}) make {expected}"
                )

    @property
    def description(self) -> str:
        """One line for logs: name, provider, the synthetic-training label where it applies, and why
        the session runs on another provider than DEVICE=auto asked for."""
        return (
            f"{self.info.name} v{self.info.version} ({self.path.name}, {self.precision}) on {self.provider} "
            f"({self.device_name})"
            + (f" [{SYNTHETIC_LABEL}]" if self.info.synthetic else "")
            + (f"; {self.fallback}" if self.fallback else "")
        )

    def normalize(self, raw: NDArray[Any]) -> NDArray[np.float32]:
        """Z-score a (N, C, H, W) batch of raw band values with the model's mean and std."""
        return normalize_in_place(raw.astype(np.float32), self.info.mean, self.info.std)

    def _feeds(self, batch: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
        """Input name -> array for a normalized (N, C·images, H, W) batch (see contract.model_inputs)."""
        return dict(zip(self.input_names, model_inputs(batch, self.info, len(self.input_names)), strict=True))

    def _run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        try:
            if not self._io_binding:
                out: NDArray[np.float32] = self.session.run([self.output_name], self._feeds(batch))[0]
                return out
            binding = self.session.io_binding()
            for name, array in self._feeds(batch).items():
                binding.bind_cpu_input(name, array)
            binding.bind_output(self.output_name, "cpu")
            self.session.run_with_iobinding(binding)
            bound: NDArray[np.float32] = binding.copy_outputs_to_cpu()[0]
            return bound
        except ORT_ERRORS as exc:
            if _OOM.search(str(exc)):
                raise OutOfMemory(f"{self.path}: out of memory on {self.provider} "
                                  f"with a batch of {len(batch)} tiles") from exc
            raise ModelError(f"{self.path}: inference failed on {self.provider} ({first_line(exc)})") from exc

    def positive_probability(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
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

    def _positive(self, out: NDArray[np.float32], n: int, size: tuple[int, ...]) -> NDArray[np.float32]:
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
        if out.shape[1] == 2:  # a softmax of two is the sigmoid of the difference: fewer passes over the batch
            return _sigmoid(out[:, k] - out[:, 1 - k])
        # softmax probability of class k, computed stably
        shifted = out - out.max(axis=1, keepdims=True)
        np.exp(shifted, out=shifted)
        positive: NDArray[np.float32] = shifted[:, k] / shifted.sum(axis=1)
        return positive


def _sigmoid(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """1 / (1 + exp(-x)) computed in ``x`` (an array of the caller's own), without a temporary per
    step; exp overflowing to inf gives 0, the probability's limit."""
    np.negative(x, out=x)
    with np.errstate(over="ignore"):
        np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)
    return x
