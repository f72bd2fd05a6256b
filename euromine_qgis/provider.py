"""The "euromine" Processing provider."""
from __future__ import annotations

import importlib
from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms.translation import tr
from .environment import GPU, Problem, check_environment

ICON = str(Path(__file__).with_name("icon.svg"))
# (module of algorithms/, class): imported one by one, so a missing dependency takes away only the
# algorithms that need it. Those that run a model in every method (the spec's needs_models) are left out
# when the model code (onnxruntime) cannot load; detectchange stays for its METHOD footprints.
ALGORITHMS = (
    ("mapfootprints", "MapFootprintsAlgorithm"),
    ("detectchange", "DetectChangeAlgorithm"),
    ("changelayers", "ChangeLayersAlgorithm"),
    ("evaluate", "EvaluateAlgorithm"),
    ("mapsites", "MapSitesAlgorithm"),
    ("composites", "CompositesAlgorithm"),
    ("installdependencies", "InstallDependenciesAlgorithm"),
)


class EuroMineProvider(QgsProcessingProvider):
    """Holds the EuroMine algorithms under the id ``euromine``; those whose dependencies are
    missing are left out and ``warningMessage`` says why and how to fix it."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: tuple[Problem, ...] = check_environment()
        self.unavailable: dict[str, str] = {}

    def id(self) -> str:
        return "euromine"

    def name(self) -> str:
        return "EuroMine"

    def longName(self) -> str:
        return tr("EuroMine — mining footprints from Sentinel-2")

    def icon(self) -> QIcon:
        return QIcon(ICON)

    def svgIconPath(self) -> str:
        return ICON

    def loadAlgorithms(self) -> None:
        self.unavailable = {}
        for module, name in ALGORITHMS:
            try:
                algorithm = getattr(importlib.import_module(f".algorithms.{module}", __package__), name)()
                if algorithm.SPEC.needs_models:
                    importlib.import_module(".core.engine.model", __package__)
            except Exception as exc:  # numpy 2 under GDAL fails in several ways; report, never crash QGIS
                self.unavailable[module] = f"{type(exc).__name__}: {exc}"
                continue
            self.addAlgorithm(algorithm)

    def recheck(self) -> None:
        """Check the environment again (after the installer ran) and reload the algorithms."""
        check_environment.cache_clear()
        self.problems = check_environment()
        self.refreshAlgorithms()

    def warningMessage(self) -> str:
        """Each dependency problem with its fix, and any algorithm that failed to load for another reason."""
        lines = [p.message() for p in self.problems]
        if self.unavailable and all(p.affects == GPU for p in self.problems):
            lines += [tr("The {algorithm} algorithm could not be loaded ({error}).").format(algorithm=m, error=e)
                      for m, e in self.unavailable.items()]
        return "\n".join(lines)
