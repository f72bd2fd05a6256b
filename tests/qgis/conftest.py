"""The EuroMine provider registered in pytest-qgis's QgsApplication, with Processing initialised."""
from __future__ import annotations

import pytest
from qgis.core import QgsApplication


@pytest.fixture(scope="session")
def euromine_provider(qgis_processing):
    from euromine_qgis.provider import EuroMineProvider

    registry = QgsApplication.processingRegistry()
    provider = EuroMineProvider()
    assert registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)
