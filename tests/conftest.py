"""Shared fixtures: the repository on sys.path, generated sites, small real ONNX models and the
EuroMine Processing provider."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PROJ_DATA", "/usr/share/proj")
os.environ.setdefault("PROJ_LIB", "/usr/share/proj")
# PRECISION=auto's measured verdicts: kept with the build, not in the user's cache
os.environ.setdefault("EUROMINE_CACHE_DIR", str(REPO / "build" / "test-cache"))

from tests.onnx_factory import conv_model  # noqa: E402 (needs the repository on sys.path)

# Their tests start QGIS (qgis_process, a desktop window) or the command in processes of their own.
SLOW_FOLDERS = {"e2e", "cli"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of SLOW_FOLDERS slow (make check leaves slow tests out)."""
    for item in items:
        if item.path.relative_to(REPO / "tests").parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def conv_onnx(tmp_path_factory) -> Path:
    """A real ONNX file: two 3×3 convolutions, 10 bands -> 2 logits, EuroMine metadata."""
    return conv_model(tmp_path_factory.mktemp("models") / "conv.onnx")


@pytest.fixture(scope="session")
def sites(tmp_path_factory) -> list[Path]:
    """Three generated sites in the EuroMineNet layout; the first is smaller than a patch."""
    from export.synthetic import generate_sites

    return generate_sites(tmp_path_factory.mktemp("sites"), 3, seed=7)


@pytest.fixture(scope="session")
def euromine_provider(qgis_processing):
    """The EuroMine provider registered in pytest-qgis's QgsApplication, with Processing initialised."""
    from qgis.core import QgsApplication

    from euromine_qgis.provider import EuroMineProvider

    registry = QgsApplication.processingRegistry()
    provider = EuroMineProvider()
    assert registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)
