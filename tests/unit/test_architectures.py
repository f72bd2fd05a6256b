"""export.onnx.export_onnx on each input layout of the model contract: footprint (one image),
change (before, after) and series (N, T, C, H, W). Every family's own export and parity are
tested in test_architectures_footprint.py and test_architectures_change.py; the series model,
the only one of its task, is tested here."""
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from export import architectures  # noqa: E402
from export.onnx import contract_metadata, export_onnx  # noqa: E402


def test_every_task_has_an_architecture():
    assert {a.task for a in architectures.ARCHITECTURES.values()} == set(architectures.TASKS)
    with pytest.raises(KeyError, match="known:"):
        architectures.get("no_such_net")


@pytest.mark.slow
@pytest.mark.parametrize("name, inputs", [
    ("unet", [("image", ["N", 10, "H", "W"])]),
    ("fc_siam_diff", [("before", ["N", 10, "H", "W"]), ("after", ["N", 10, "H", "W"])]),
    ("utae", [("image", ["N", "T", 10, "H", "W"])]),
])
def test_export_onnx_proves_parity_for_each_layout(name, inputs, tmp_path):
    arch = architectures.get(name)
    torch.manual_seed(0)
    model = arch.build(width=8)
    meta = contract_metadata(name, arch.task, "untrained test weights", "0")
    # export_onnx raises unless max |onnxruntime - torch| <= 1e-4 and argmax agrees on 99.9 %,
    # at N = 1 and at another N, H, W (and T for the series model): the dynamic axes are proven.
    path = export_onnx(model, tmp_path / f"{name}.onnx", meta, sample_hw=(64, 64), check_shape=(2, 96, 64),
                       steps=(4, 3))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    declared = [(i.name, i.shape) for i in session.get_inputs()]
    assert declared == inputs
