"""Footprint architectures of export.architectures: output shape, gradient flow, size budget and
ONNX export (dynamic N, H, W) with onnxruntime parity, every family at a small width."""
from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from export.architectures import ARCHITECTURES  # noqa: E402
from tests.build_cache import keep, kept_file, onnx_export_key  # noqa: E402

BENCHMARK = {"unet", "linknet", "pspnet", "deeplabv3plus", "deeplabv3plus_mobilenet", "upernet", "segformer"}
FOOTPRINT = sorted(name for name, arch in ARCHITECTURES.items() if arch.task == "footprint")
WIDTH = 8
BANDS, CLASSES = 10, 2
MAX_DEFAULT_PARAMS = 1_500_000  # trained on 2 CPU cores; about 6 MB of fp32 weights


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Width-8 models on small tiles: a second intra-op thread only adds synchronisation, and
    on a busy machine a spinning OpenMP thread makes these tests 100 times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _build(name: str, width: int | None = WIDTH) -> torch.nn.Module:
    torch.manual_seed(0)
    return ARCHITECTURES[name].build(in_channels=BANDS, num_classes=CLASSES, width=width)


def _export(model: torch.nn.Module) -> bytes:
    """The team's export call (dynamo, opset 18, dynamic N/H/W) from an N = 1 sample, as
    export.onnx does; exporter chatter silenced. Runs in a worker process."""
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model.eval(), (torch.randn(1, BANDS, 64, 64),), None, dynamo=True, input_names=["image"],
            output_names=["logits"], opset_version=18, dynamic_shapes=({0: "N", 2: "H", 3: "W"},),
            external_data=False,
        )
    return program.model_proto.SerializeToString()


@pytest.fixture(scope="module")
def exports() -> Iterator[dict[str, tuple[torch.nn.Module, Future[bytes]]]]:
    """Every family at WIDTH, exported two at a time in worker processes.

    Export time does not shrink with width: it is the exporter's symbolic-shape work per op,
    8 to 25 CPU seconds per family here. Families with the most modules start first so the two
    workers finish together.
    """
    models = {name: _build(name).eval() for name in FOOTPRINT}
    workers = min(2, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        order = sorted(FOOTPRINT, key=lambda name: -len(list(models[name].modules())))
        yield {name: (models[name], _kept_export(pool, name, models[name])) for name in order}


def _kept_export(pool: ProcessPoolExecutor, name: str, model: torch.nn.Module) -> Future[bytes]:
    """The export of ``name``, kept under build/ by its inputs (tests/build_cache.py): made in ``pool``
    when no run has exported this code with these packages yet."""
    kept = kept_file("onnx-export", onnx_export_key("tests/unit/test_architectures_footprint.py", name))
    if kept.is_file():
        done: Future[bytes] = Future()
        done.set_result(kept.read_bytes())
        return done
    def keep_when_made(made: Future[bytes]) -> None:
        if made.exception() is None:
            keep(kept, made.result())

    future = pool.submit(_export, model)
    future.add_done_callback(keep_when_made)
    return future


def test_the_benchmark_families_are_registered() -> None:
    assert BENCHMARK <= set(FOOTPRINT)


@pytest.mark.parametrize("name", FOOTPRINT)
def test_logits_at_the_input_size(name: str) -> None:
    with torch.no_grad():
        out = _build(name).eval()(torch.randn(2, BANDS, 64, 96))
    assert out.shape == (2, CLASSES, 64, 96) and out.dtype == torch.float32


@pytest.mark.parametrize("name", FOOTPRINT)
def test_gradients_reach_every_parameter(name: str) -> None:
    model = _build(name).train()
    generator = torch.Generator().manual_seed(1)
    logits = model(torch.randn(2, BANDS, 64, 96, generator=generator))
    target = torch.randint(0, CLASSES, (2, 64, 96), generator=generator)
    torch.nn.functional.cross_entropy(logits, target).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", FOOTPRINT)
def test_default_width_fits_the_cpu_budget(name: str) -> None:
    assert sum(p.numel() for p in _build(name, width=None).parameters()) <= MAX_DEFAULT_PARAMS


@pytest.mark.slow
@pytest.mark.parametrize("name", FOOTPRINT)
def test_onnx_export_matches_pytorch_at_any_size(
    name: str, exports: dict[str, tuple[torch.nn.Module, Future[bytes]]]
) -> None:
    model, onnx_bytes = exports[name]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes.result(), options, providers=["CPUExecutionProvider"])
    declared = session.get_inputs()[0].shape
    assert all(isinstance(declared[axis], str) for axis in (0, 2, 3)), f"N, H, W not all dynamic: {declared}"
    for shape in [(1, BANDS, 64, 64), (2, BANDS, 96, 128)]:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(["logits"], {"image": x.numpy()})[0]
        assert got.shape == expected.shape == (shape[0], CLASSES, *shape[2:])
        assert np.abs(got - expected).max() <= 1e-4
        assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.999
