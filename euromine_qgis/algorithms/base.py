"""The base of every EuroMine algorithm: identity and help from class attributes and help/, the
body run with the engine's typed errors turned into Processing errors in this one place, and
raster inputs QGIS refuses explained in the engine's words."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
)
from qgis.PyQt.QtGui import QIcon

from ..core.errors import EuroMineError
from ..core.progress import Reporter
from .inputs import raster_input_problem
from .models import model_help
from .translation import tr

HELP = Path(__file__).resolve().parent / "help"  # one <ALG_ID>.html per algorithm
ICONS = Path(__file__).resolve().parent.parent / "icons"  # one <ALG_ID>.svg per algorithm
BUNDLED_MODELS = "{bundled_models}"  # where a help text lists the bundled models


@lru_cache(maxsize=None)
def help_text(alg_id: str) -> str:
    """The help page of algorithm ``alg_id`` as written in help/ (untranslated)."""
    return (HELP / f"{alg_id}.html").read_text(encoding="utf-8").strip()


def reporter_for(feedback: QgsProcessingFeedback) -> Reporter:
    """Route engine progress, log lines, warnings and cancellation through a Processing feedback."""
    return Reporter(progress=feedback.setProgress, info=feedback.pushInfo, is_canceled=feedback.isCanceled,
                    warning=feedback.pushWarning)


def score_text(value: float | None) -> str:
    """A score as the log shows it: four decimals, or "undefined" (a ratio with a zero denominator)."""
    return tr("undefined") if value is None else f"{value:.4f}"


class EuroMineAlgorithm(QgsProcessingAlgorithm):
    """Base of the EuroMine algorithms: identity from class attributes, instances of the subclass.

    A subclass implements ``process`` (QGIS's ``run`` is taken): ``processAlgorithm`` calls it and
    turns an EuroMineError into the QgsProcessingException Processing shows.
    """

    ALG_ID = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    NEEDS_MODELS = False  # left out by the provider when the model code (onnxruntime) cannot load

    def tr(self, text: str) -> str:
        """``text`` in the user's language (see translation.tr)."""
        return tr(text)

    def name(self) -> str:
        return self.ALG_ID

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(self.GROUP)

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        return self.GROUP_ID

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        """help/<ALG_ID>.html, with the bundled models listed where the page names them."""
        return self.tr(help_text(self.ALG_ID)).replace(BUNDLED_MODELS, model_help())

    def createInstance(self) -> "EuroMineAlgorithm":  # noqa: N802 (QGIS API)
        return type(self)()

    def svgIconPath(self) -> str:  # noqa: N802 (QGIS API)
        return str(ICONS / f"{self.ALG_ID}.svg")

    def icon(self) -> QIcon:
        return QIcon(self.svgIconPath())

    def checkParameterValues(self, parameters: dict, context: QgsProcessingContext) -> tuple[bool, str]:  # noqa: N802 (QGIS API)
        """QGIS's own check; where it refuses a raster input, the message names the file and its
        problem instead of QGIS's "Incorrect parameter value for IMAGES"."""
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            return ok, message
        return False, raster_input_problem(self, parameters, context) or message

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> dict:
        try:
            return self.process(parameters, context, feedback)
        except EuroMineError as exc:
            raise QgsProcessingException(str(exc)) from exc

    def process(self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> dict:
        """The algorithm's body: read the parameters, make the core call, return the results."""
        raise NotImplementedError(f"{type(self).__name__} does not implement process()")
