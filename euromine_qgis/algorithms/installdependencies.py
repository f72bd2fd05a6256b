"""euromine:installdependencies — onnxruntime into a private folder of the profile, for this Python
(the message bar's Install runs the same installer)."""
from __future__ import annotations

from qgis.core import QgsApplication, QgsProcessingOutputFolder, QgsProcessingOutputString, QgsProcessingParameterEnum

from ..dependencies.install import install_onnxruntime
from ..dependencies.plan import DEVICES
from .base import EuroMineAlgorithm, reporter_for
from .parameters import DEVICE


class InstallDependenciesAlgorithm(EuroMineAlgorithm):
    """Installs the onnxruntime build DEVICE calls for, without touching QGIS's own packages."""

    ALG_ID = "installdependencies"
    DISPLAY_NAME = "Install dependencies (onnxruntime)"
    GROUP = "Setup"
    GROUP_ID = "setup"

    FOLDER = "FOLDER"
    BUILD = "BUILD"

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterEnum(
            DEVICE, self.tr("Build for"), options=list(DEVICES), defaultValue="auto", usesStaticStrings=True))
        self.addOutput(QgsProcessingOutputFolder(self.FOLDER, self.tr("Folder of the installed packages")))
        self.addOutput(QgsProcessingOutputString(self.BUILD, self.tr("Installed onnxruntime build")))

    def process(self, parameters, context, feedback) -> dict:
        plan = install_onnxruntime(self.parameterAsEnumString(parameters, DEVICE, context),
                                   QgsApplication.qgisSettingsDirPath(), reporter_for(feedback))
        feedback.pushInfo(self.tr("Installed {requirements} into {folder}; QGIS finds it there from now on.").format(
            requirements=" ".join(plan.requirements), folder=str(plan.folder)))
        return {self.FOLDER: str(plan.folder), self.BUILD: plan.build}

    def postProcessAlgorithm(self, context, feedback) -> dict:  # noqa: N802 (QGIS API)
        """In the main thread: the provider checks again and loads the algorithms that run a model."""
        if self.provider() is not None:
            self.provider().recheck()
        return {}
