"""euromine:installdependencies in Processing: the installer's spec, given the QGIS profile to
install into; afterwards the provider checks again and loads the algorithms that run a model."""
from __future__ import annotations

from qgis.core import QgsApplication

from ..core.app.execution import run_spec
from ..core.app.spec import Outcome
from ..dependencies import spec
from .base import EuroMineAlgorithm


class InstallDependenciesAlgorithm(EuroMineAlgorithm):
    """Installs the onnxruntime build DEVICE calls for, without touching QGIS's own packages."""

    SPEC = spec.SPEC

    def execute(self, values, reporter, context, feedback) -> Outcome:
        values.extra[spec.SETTINGS_FOLDER.name] = QgsApplication.qgisSettingsDirPath()
        return run_spec(self.SPEC, values, reporter)

    def postProcessAlgorithm(self, context, feedback) -> dict:
        """In the main thread: the provider checks again and loads the algorithms that run a model."""
        if self.provider() is not None:
            self.provider().recheck()
        return {}
