"""euromine:evaluate — CA-TIoU and the benchmark metrics of annual predictions against references."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
)

from ..core.results import evaluation_results
from ..core.scoring.evaluate_files import evaluate_files
from ..qgis_compat import SOURCE_RASTER
from .base import EuroMineAlgorithm, reporter_for, score_text
from .inputs import layer_files
from .parameters import (
    LAMBDA,
    PAIRS,
    lambda_parameter,
    pairs_parameter,
    read_years,
    temporary_by_default,
    years_parameter,
)


class EvaluateAlgorithm(EuroMineAlgorithm):
    """Scores annual footprint predictions against reference masks, per year, pooled and over time."""

    ALG_ID = "evaluate"
    DISPLAY_NAME = "Evaluate footprints (CA-TIoU, IoU, F1)"
    GROUP = "Evaluation"
    GROUP_ID = "evaluation"

    PREDICTIONS = "PREDICTIONS"
    REFERENCES = "REFERENCES"
    TABLE = "TABLE"
    REPORT = "REPORT"

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.PREDICTIONS, self.tr("Predicted footprints (one per year)"), SOURCE_RASTER))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.REFERENCES, self.tr("Reference footprints (one per year)"), SOURCE_RASTER))
        self.addParameter(years_parameter())
        self.addParameter(lambda_parameter())
        self.addParameter(pairs_parameter(default=None))
        self.addParameter(temporary_by_default(QgsProcessingParameterFileDestination(
            self.TABLE, self.tr("Metrics table"), self.tr("CSV files (*.csv)"))))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.REPORT, self.tr("HTML report"), self.tr("HTML files (*.html)"), optional=True, createByDefault=False))
        for name, description in (("TIOU", "TIoU"), ("CIOU", "CIoU"), ("CA_TIOU", "CA-TIoU")):
            self.addOutput(QgsProcessingOutputNumber(name, description))

    def process(self, parameters, context, feedback) -> dict:
        lam = self.parameterAsDouble(parameters, LAMBDA, context)
        table = Path(self.parameterAsFileOutput(parameters, self.TABLE, context))
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        summary = evaluate_files(
            layer_files(parameters, self.PREDICTIONS, context), layer_files(parameters, self.REFERENCES, context),
            table, Path(report) if report else None, years=read_years(self, parameters, context),
            pairs=self.parameterAsString(parameters, PAIRS, context), lam=lam, reporter=reporter_for(feedback),
        )
        feedback.pushInfo(self.tr("TIoU {tiou}   CIoU {ciou}   CA-TIoU (λ={lam}) {ca_tiou}").format(
            tiou=score_text(summary["tiou"]), ciou=score_text(summary["ciou"]), lam=f"{lam:g}", ca_tiou=score_text(summary["ca_tiou"])))
        feedback.pushInfo(self.tr("Table: {path}").format(path=table))
        if report:
            feedback.pushInfo(self.tr("Report: {path}").format(path=report))
        return {self.TABLE: str(table), self.REPORT: report or None, **evaluation_results(summary)}
