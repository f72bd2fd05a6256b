"""The "euromine" Processing provider."""
from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms.change_layers import ChangeLayersAlgorithm
from .algorithms.detect_change import DetectChangeAlgorithm
from .algorithms.evaluate import EvaluateAlgorithm
from .algorithms.map_footprints import MapFootprintsAlgorithm
from .algorithms.map_sites import MapSitesAlgorithm

ICON = str(Path(__file__).with_name("icon.svg"))


class EuroMineProvider(QgsProcessingProvider):
    """Holds the EuroMine algorithms under the id ``euromine``."""

    def id(self) -> str:
        return "euromine"

    def name(self) -> str:
        return "EuroMine"

    def longName(self) -> str:  # noqa: N802 (QGIS API)
        return "EuroMine — mining footprints from Sentinel-2"

    def icon(self) -> QIcon:
        return QIcon(ICON)

    def svgIconPath(self) -> str:  # noqa: N802 (QGIS API)
        return ICON

    def loadAlgorithms(self) -> None:  # noqa: N802 (QGIS API)
        self.addAlgorithm(MapFootprintsAlgorithm())
        self.addAlgorithm(EvaluateAlgorithm())
        self.addAlgorithm(ChangeLayersAlgorithm())
        self.addAlgorithm(DetectChangeAlgorithm())
        self.addAlgorithm(MapSitesAlgorithm())
