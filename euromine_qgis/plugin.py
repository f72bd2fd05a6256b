"""The plugin object QGIS loads: it registers the EuroMine Processing provider."""
from __future__ import annotations

from qgis.core import QgsApplication

from .provider import EuroMineProvider


class EuroMinePlugin:
    """Registers the provider for the desktop and for qgis_process (initProcessing)."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: EuroMineProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API)
        if self.provider is None:
            self.provider = EuroMineProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
