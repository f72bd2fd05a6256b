"""ONNX export step (export/onnx.py) and the spectral baseline model (export/spectral.py)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from euromine_qgis.core import release  # noqa: E402
from euromine_qgis.core.engine.contract import METADATA_KEY  # noqa: E402
from euromine_qgis.core.errors import ModelError  # noqa: E402
from export.onnx import (  # noqa: E402
    NATIVE_OPSET,
    ExportError,
    OpsetError,
    check_parity,
    example_inputs,
    export_onnx,
    read_metadata,
)
from export.spectral import NAME, SpectralBaseline, metadata  # noqa: E402
from export.tolerant_field import record_tolerant_field  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # exports models
MODELS_DIR = REPO / "models_onnx"
CONTRACT_KEYS = {
    "name", "task", "bands", "mean", "std", "patch_size", "classes", "output",
    "trained_on", "license", "version", "receptive_field", "tolerant_receptive_field", "alignment",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(SpectralBaseline(), tmp_path_factory.mktemp("a") / f"{NAME}.onnx", metadata())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- export_onnx -------------------------------------------------------------------------------

def test_metadata_embedded_as_contract_json(exported: Path) -> None:
    meta = read_metadata(exported)
    assert set(meta) == CONTRACT_KEYS
    # the spectral rule averages over 5x5 pixels and has no downsampling: measured at export (the
    # tolerant field only by the commands that bundle a model: export.spectral, export.zoo)
    assert meta == dict(metadata(), receptive_field=2, tolerant_receptive_field=None, alignment=1)
    assert meta["bands"] == list(release.BANDS) and meta["patch_size"] == 160
    assert meta["classes"] == ["background", "mining"] and meta["output"] == "logits"
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY]) == meta


def test_checker_passes_and_single_small_file(exported: Path) -> None:
    onnx.checker.check_model(onnx.load(str(exported)), full_check=True)
    assert sorted(p.name for p in exported.parent.iterdir()) == [exported.name]  # no data files, no tmp
    assert exported.stat().st_size < 64 * 1024


@pytest.mark.parametrize("shape", [(1, 10, 160, 160), (3, 10, 97, 131), (2, 10, 7, 250)])
def test_parity_with_torch(exported: Path, shape: tuple[int, ...]) -> None:
    inputs = example_inputs("footprint", shape[0], shape[1], shape[2], shape[3], seed=1)
    diff, agree = check_parity(SpectralBaseline().eval(), exported, inputs, n_classes=2)
    assert diff <= 1e-4 and agree >= 0.999


def test_dynamic_axes_are_symbolic(exported: Path) -> None:
    graph = onnx.load(str(exported)).graph
    assert [i.name for i in graph.input] == ["image"] and graph.output[0].name == "logits"
    for value, channels in ((graph.input[0], 10), (graph.output[0], 2)):
        dims = value.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["N", "", "H", "W"]
        assert dims[1].dim_value == channels


def test_export_is_deterministic(exported: Path, tmp_path: Path) -> None:
    again = export_onnx(SpectralBaseline(), tmp_path / "again.onnx", metadata())
    assert again.read_bytes() == exported.read_bytes()


def test_committed_model_is_what_the_code_exports(exported: Path, tmp_path: Path) -> None:
    """export.spectral's steps: the export, then the tolerant field it records as a bundled model."""
    entry = {m["name"]: m for m in json.loads((MODELS_DIR / "models.json").read_text())["models"]}[NAME]
    if entry["provenance"]["torch"] != torch.__version__:
        pytest.skip(f"committed file exported with torch {entry['provenance']['torch']}")
    bundled = Path(shutil.copy(exported, tmp_path / exported.name))
    record_tolerant_field(bundled)
    assert bundled.read_bytes() == (MODELS_DIR / entry["file"]).read_bytes()


def test_failed_check_leaves_no_file(tmp_path: Path) -> None:
    bad = dict(metadata(), classes=["background", "mining", "other"])  # model gives 2 channels
    with pytest.raises(ExportError, match="metadata lists 3"):
        export_onnx(SpectralBaseline(), tmp_path / "bad.onnx", bad, exporter="torchscript")
    assert list(tmp_path.iterdir()) == []


class _Halves(torch.nn.Module):
    """A 1x1 convolution whose channels are split in equal halves (torch.chunk), as ChangeFormer and
    BIT do: the exporter writes an opset-18 Split that ONNX's version converter cannot lower."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(len(release.BANDS), 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.chunk(self.conv(x), 2, dim=1)
        return a - b


def test_a_graph_that_cannot_be_lowered_is_refused_then_exports_at_the_native_opset(tmp_path: Path) -> None:
    with pytest.raises(OpsetError, match=f"export at opset {NATIVE_OPSET}"):
        export_onnx(_Halves(), tmp_path / "m.onnx", metadata())
    assert list(tmp_path.iterdir()) == []
    path = export_onnx(_Halves(), tmp_path / "m.onnx", metadata(), opset=NATIVE_OPSET)
    assert [o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")] == [NATIVE_OPSET]


def test_invalid_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="m.onnx: metadata 'euromine' lacks license"):
        export_onnx(SpectralBaseline(), tmp_path / "m.onnx", {k: v for k, v in metadata().items() if k != "license"})
    with pytest.raises(ModelError, match="in_channels"):
        export_onnx(SpectralBaseline(), tmp_path / "m.onnx", metadata(), in_channels=4)
    assert list(tmp_path.iterdir()) == []


def test_committed_models_match_models_json() -> None:
    models = json.loads((MODELS_DIR / "models.json").read_text())["models"]
    assert NAME in [m["name"] for m in models]
    for m in models:
        path = MODELS_DIR / m["file"]
        assert _sha256(path) == m["sha256"] and path.stat().st_size == m["size_bytes"]
    spectral = {m["name"]: m for m in models}[NAME]
    assert spectral["synthetic_training"] is False
    assert spectral["provenance"]["command"] == "python -m export.spectral --out models_onnx"
    expected = dict(metadata(), receptive_field=2, tolerant_receptive_field=2, alignment=1)
    assert read_metadata(MODELS_DIR / spectral["file"]) == expected


# --- physics -----------------------------------------------------------------------------------

# Typical Sentinel-2 L2A surface reflectance, bands B2 B3 B4 B5 B6 B7 B8 B8A B11 B12.
SPECTRA = {
    "vegetation": [0.03, 0.06, 0.03, 0.10, 0.25, 0.32, 0.35, 0.37, 0.18, 0.08],
    "water": [0.06, 0.05, 0.03, 0.02, 0.01, 0.01, 0.01, 0.01, 0.005, 0.003],
    "turbid_water": [0.08, 0.10, 0.09, 0.07, 0.04, 0.03, 0.03, 0.03, 0.02, 0.01],
    "bare_rock": [0.15, 0.18, 0.22, 0.25, 0.27, 0.28, 0.29, 0.30, 0.35, 0.30],
    "urban_mixed": [0.08, 0.09, 0.10, 0.12, 0.16, 0.19, 0.21, 0.22, 0.21, 0.17],
}


def _scene(background: str, h: int = 40, w: int = 40) -> np.ndarray:
    """(H, W, 10) reflectance filled with one spectrum."""
    return np.tile(np.asarray(SPECTRA[background], np.float32), (h, w, 1))


def _mining_probability(session: ort.InferenceSession, reflectance: np.ndarray) -> np.ndarray:
    """Z-score (H, W, 10) reflectance like the plugin does and return (H, W) P(mining)."""
    raw = reflectance.transpose(2, 0, 1)[None] * 10000.0
    mean = np.asarray(release.MEAN, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(release.STD, np.float32).reshape(1, -1, 1, 1)
    logits = session.run(["logits"], {"image": ((raw - mean) / std).astype(np.float32)})[0][0]
    e = np.exp(logits - logits.max(axis=0))
    return (e[1] / e.sum(axis=0)).astype(np.float64)


@pytest.fixture(scope="module")
def session(exported: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])


def test_bare_rock_patch_in_vegetation_is_mining(session: ort.InferenceSession) -> None:
    scene = _scene("vegetation")
    scene[10:30, 10:30] = SPECTRA["bare_rock"]
    p = _mining_probability(session, scene)
    assert p[12:28, 12:28].min() > 0.5  # interior of the 20 x 20 patch
    assert p[:6].max() < 0.5 and p[:, :6].max() < 0.5  # vegetation away from the patch


@pytest.mark.parametrize("surface", ["vegetation", "water", "turbid_water", "urban_mixed"])
def test_non_mining_surfaces(session: ort.InferenceSession, surface: str) -> None:
    assert _mining_probability(session, _scene(surface)).max() < 0.5


def test_water_beside_rock_stays_water(session: ort.InferenceSession) -> None:
    scene = _scene("bare_rock")
    scene[:, 20:] = SPECTRA["water"]
    p = _mining_probability(session, scene)
    assert p[:, :17].min() > 0.5 and p[:, 23:].max() < 0.5


def test_single_bare_pixels_are_outvoted(session: ort.InferenceSession) -> None:
    scene = _scene("vegetation")
    scene[5::9, 5::9] = SPECTRA["bare_rock"]
    assert _mining_probability(session, scene).max() < 0.5
