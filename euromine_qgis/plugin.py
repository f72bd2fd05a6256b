"""The plugin object QGIS loads: it registers the EuroMine Processing provider and says, once,
what is missing from QGIS's Python and how to fix it."""
from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsMessageLog

from .algorithms.translation import tr
from .environment import GPU
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
            self._report_problems()

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    def _report_problems(self) -> None:
        """In the message log (qgis_process prints it on stderr) and the desktop's message bar."""
        for problem in self.provider.problems:
            level = Qgis.Warning if problem.affects == GPU else Qgis.Critical
            QgsMessageLog.logMessage(tr("EuroMine plugin: {problem}").format(problem=problem.message()), "EuroMine", level)
            if self.iface is not None:
                self.iface.messageBar().pushMessage("EuroMine", problem.message(), level=level, duration=0)
