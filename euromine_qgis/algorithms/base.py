"""The Processing side of every EuroMine algorithm, generated from its spec (core.app): identity,
parameters, outputs and help from the spec; the body reads every parameter by its kind, runs the
spec's use case and logs its lines, with the engine's typed errors turned into Processing errors
in this one place. A subclass adds only what QGIS alone does: the layers loaded when the run
completes, and the outputs drawn with QGIS (polygons)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
)
from qgis.PyQt.QtGui import QIcon

from ..core.app.execution import run_spec
from ..core.app.reference import help_html
from ..core.app.spec import QGIS, AlgorithmSpec, Kind, Outcome, Values
from ..core.errors import EuroMineError, first_line
from ..core.progress import Reporter
from ..environment import GPU, MODELS, check_environment
from .inputs import raster_input_problem
from .parameters import qgis_output, qgis_parameter, read_value
from .translation import tr

ICONS = Path(__file__).resolve().parent.parent / "icons"  # one <id>.svg per algorithm


@cache
def help_text(spec: AlgorithmSpec) -> str:
    """The help page of ``spec`` (generated once per session: it lists the bundled models)."""
    return help_html(spec)


def reporter_for(feedback: QgsProcessingFeedback) -> Reporter:
    """Route engine progress, log lines, warnings and cancellation through a Processing feedback."""
    return Reporter(progress=feedback.setProgress, info=feedback.pushInfo, is_canceled=feedback.isCanceled,
                    warning=feedback.pushWarning)


class ParameterValues(Mapping[str, Any]):
    """The values of an algorithm's parameters as the use case takes them, each read by its kind
    on first use: a destination is read only when the run writes it (QGIS makes a temporary file
    or folder when one is read)."""

    def __init__(self, alg: EuroMineAlgorithm, parameters: dict, context: QgsProcessingContext) -> None:
        self._alg, self._parameters, self._context = alg, parameters, context
        self._params = {p.name: p for p in alg.SPEC.on(QGIS)}
        self._read: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}  # values the adapter adds (Param.surfaces empty: filled in here)

    def __getitem__(self, name: str) -> Any:
        if name in self.extra:
            return self.extra[name]
        if name not in self._read:
            self._read[name] = read_value(self._alg, self._params[name], self._parameters, self._context)
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**self._params, **self.extra})

    def __len__(self) -> int:
        return len({**self._params, **self.extra})


class EuroMineAlgorithm(QgsProcessingAlgorithm):
    """A EuroMine algorithm in Processing: ``SPEC`` says everything; a subclass may override
    ``execute`` (to give the use case what QGIS provides) and ``present`` (layers, QGIS outputs)."""

    SPEC: AlgorithmSpec

    def tr(self, text: str) -> str:
        """``text`` in the user's language (see translation.tr)."""
        return tr(text)

    def name(self) -> str:
        return self.SPEC.id

    def displayName(self) -> str:
        return self.tr(self.SPEC.title)

    def group(self) -> str:
        return self.tr(self.SPEC.group)

    def groupId(self) -> str:
        return self.SPEC.group_id

    def shortHelpString(self) -> str:
        return self.tr(help_text(self.SPEC))

    def createInstance(self) -> EuroMineAlgorithm:
        return type(self)()

    def svgIconPath(self) -> str:
        return str(ICONS / f"{self.SPEC.id}.svg")

    def icon(self) -> QIcon:
        return QIcon(self.svgIconPath())

    def initAlgorithm(self, config: dict | None = None) -> None:
        for p in self.SPEC.on(QGIS):
            self.addParameter(qgis_parameter(p))
        for output in self.SPEC.outputs:
            self.addOutput(qgis_output(output))

    def checkParameterValues(self, parameters: dict, context: QgsProcessingContext) -> tuple[bool, str]:
        """QGIS's own check; where it refuses a raster input, the message names the file and its
        problem instead of QGIS's "Incorrect parameter value for IMAGES"."""
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            return ok, message
        return False, raster_input_problem(self, parameters, context) or message

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        values = ParameterValues(self, parameters, context)
        try:
            with self._model_code(feedback):
                outcome = self.execute(values, reporter_for(feedback), context, feedback)
            for line in outcome.lines:
                feedback.pushInfo(line)
            return {**outcome.results, **self.present(outcome, values, context, feedback)}
        except EuroMineError as exc:
            raise QgsProcessingException(str(exc)) from exc

    @contextmanager
    def _model_code(self, feedback: QgsProcessingFeedback) -> Iterator[None]:
        """Where a model may load: how to use an idle NVIDIA GPU first, and onnxruntime missing or
        broken as the environment check's fix."""
        if any(p.kind is Kind.MODEL for p in self.SPEC.params):
            for problem in check_environment():
                if problem.affects == GPU:
                    feedback.reportError(problem.message(), fatalError=False)
        try:
            yield
        except ImportError as exc:
            problem = next((p.message() for p in check_environment() if p.affects == MODELS), first_line(exc))
            raise QgsProcessingException(tr("Model cannot run here: {problem}").format(problem=problem)) from exc

    def execute(self, values: Values, reporter: Reporter, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> Outcome:
        """Run the spec's use case (a subclass gives it what QGIS provides around the run)."""
        return run_spec(self.SPEC, values, reporter)

    def present(self, outcome: Outcome, values: Values, context: QgsProcessingContext,
                feedback: QgsProcessingFeedback) -> dict:
        """What QGIS does with the outcome (layers to load) and the QGIS-only results it adds."""
        return {}
