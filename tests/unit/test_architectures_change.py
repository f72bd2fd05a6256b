"""Change architectures of export.architectures: output shape, date order, identical dates,
gradient flow, size budget and ONNX export (dynamic N, H, W) with onnxruntime parity, every
family at a small width."""
from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from export.architectures import ARCHITECTURES  # noqa: E402
from tests.build_cache import keep, kept_file, onnx_export_key  # noqa: E402

BENCHMARK = {"fc_ef", "fc_siam_conc", "fc_siam_diff", "snunet", "bit", "tinycd", "changeformer", "a2net"}
CHANGE = sorted(name for name, arch in ARCHITECTURES.items() if arch.task == "change")
# A2Net fuses the dates only through |a - b|, so swapping them must not change its output. Every
# other family treats the dates differently somewhere: channel order of a concatenation or an
# interleaved grouped conv, the after image's bottom features in FC-Siam (even FC-Siam-diff), the
# dates' own learned token positions in BIT.
SYMMETRIC = {"a2net"}
WIDTH = 8
BANDS, CLASSES = 10, 2
MAX_DEFAULT_PARAMS = 1_500_000  # trained on 2 CPU cores; about 6 MB of fp32 weights


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: these tensors are tiny, and on a busy 2-core machine two OpenMP
    threads wait on each other (a fwd+bwd step measured 100x slower with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _dates(n: int, h: int, w: int, seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, BANDS, h, w, generator=generator), torch.randn(n, BANDS, h, w, generator=generator)


def _without_dropout(model: torch.nn.Module) -> torch.nn.Module:
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.eval()
    return model


def _build(name: str, width: int | None = WIDTH) -> torch.nn.Module:
    torch.manual_seed(0)
    return ARCHITECTURES[name].build(in_channels=BANDS, num_classes=CLASSES, width=width)


@functools.cache
def _calibrated(name: str) -> torch.nn.Module:
    """The model in eval mode with BatchNorm statistics of one random batch of benchmark-sized
    patches (shared by the tests, which only run it). Fresh BatchNorm is the identity in eval
    mode while activations shrink layer by layer, so an untrained model's output would hardly
    depend on its inputs and the checks below would prove little."""
    model = _without_dropout(_build(name).train())
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # running statistics = this batch's
    with torch.no_grad():
        model(*_dates(2, 160, 160, seed=1))
    return model.eval()


def _export(model: torch.nn.Module, sample: tuple[torch.Tensor, torch.Tensor]) -> bytes:
    """The team's export call (dynamo, opset 18, dynamic N/H/W), exporter chatter silenced."""
    axes = {0: "N", 2: "H", 3: "W"}
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model.eval(), sample, None, dynamo=True, input_names=["before", "after"], output_names=["logits"],
                opset_version=18, dynamic_shapes=(axes, axes), external_data=False,
            )
    finally:
        logging.disable(logging.NOTSET)
    return program.model_proto.SerializeToString()


def test_the_benchmark_families_are_registered() -> None:
    assert BENCHMARK <= set(CHANGE)


@pytest.mark.parametrize("name", CHANGE)
def test_logits_at_the_input_size(name: str) -> None:
    with torch.no_grad():
        out = _calibrated(name)(*_dates(2, 64, 96))
    assert out.shape == (2, CLASSES, 64, 96) and out.dtype == torch.float32


@pytest.mark.parametrize("name", CHANGE)
def test_date_order_matters_only_where_the_paper_says(name: str) -> None:
    model = _calibrated(name)
    before, after = _dates(1, 64, 64)
    with torch.no_grad():
        forward, swapped = model(before, after), model(after, before)
    if name in SYMMETRIC:
        torch.testing.assert_close(swapped, forward, atol=1e-5, rtol=1e-5)
    else:
        assert (swapped - forward).abs().max() > 1e-3


@pytest.mark.parametrize("name", CHANGE)
def test_identical_dates_give_a_valid_output(name: str) -> None:
    image, _ = _dates(2, 64, 64)
    with torch.no_grad():
        out = _calibrated(name)(image, image.clone())
    assert out.shape == (2, CLASSES, 64, 64) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", CHANGE)
def test_gradients_reach_every_parameter(name: str) -> None:
    # Without dropout: it may zero a channel in every sample, which is no wiring fault.
    model = _without_dropout(_build(name).train())
    logits = model(*_dates(2, 64, 96))
    target = torch.randint(0, CLASSES, (2, 64, 96), generator=torch.Generator().manual_seed(1))
    torch.nn.functional.cross_entropy(logits, target).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", CHANGE)
def test_default_width_fits_the_cpu_budget(name: str) -> None:
    assert sum(p.numel() for p in _build(name, width=None).parameters()) <= MAX_DEFAULT_PARAMS


@pytest.mark.slow
@pytest.mark.parametrize("name", CHANGE)
def test_onnx_export_matches_pytorch_at_any_size(name: str) -> None:
    model = _calibrated(name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    kept = kept_file("onnx-export", onnx_export_key("tests/unit/test_architectures_change.py", name))
    if not kept.is_file():  # kept under build/ by its inputs (tests/build_cache.py) for the next run
        keep(kept, _export(model, _dates(1, 64, 64)))
    session = ort.InferenceSession(kept.read_bytes(), options, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    assert [i.name for i in inputs] == ["before", "after"]
    for i in inputs:
        assert all(isinstance(i.shape[axis], str) for axis in (0, 2, 3)), f"N, H, W not all dynamic: {i.shape}"
    for n, h, w in [(1, 64, 64), (2, 96, 128)]:
        before, after = _dates(n, h, w, seed=3)
        with torch.no_grad():
            expected = model(before, after).numpy()
        got = session.run(["logits"], {"before": before.numpy(), "after": after.numpy()})[0]
        assert got.shape == expected.shape == (n, CLASSES, h, w)
        assert np.abs(got - expected).max() <= 1e-4
        assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.999


def test_tinycd_output_depends_only_on_nearby_pixels() -> None:
    """TinyCD has a finite receptive field, so the engine can tile it exactly: changing the after
    image far from a pixel leaves that pixel's logits as they were, changing it nearby does not.
    (With the paper's instance norm every pixel depended on the whole scene.)"""
    model = _calibrated("tinycd")
    before, after = _dates(1, 192, 192, seed=4)
    far, near = after.clone(), after.clone()
    far[..., 128:, 128:] += 3.0
    near[..., 8:24, 8:24] += 3.0
    with torch.no_grad():
        reference, moved_far, moved_near = (model(before, x)[..., :16, :16] for x in (after, far, near))
    assert torch.allclose(moved_far, reference, rtol=0, atol=1e-6)
    assert not torch.allclose(moved_near, reference, rtol=0, atol=1e-3)
