"""euromine:evaluate — CA-TIoU and the benchmark metrics of annual predictions against references."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..core.errors import EuroMineError
from ..core.io.outputs import check_not_inputs
from ..core.pairs import parse_pairs
from ..core.progress import Reporter
from ..core.scoring.evaluation import evaluate_rasters, match_inputs
from ..core.scoring.report import write_report, write_table
from ..core.years import parse_years
from .common import EuroMineAlgorithm, layer_files

# Summary keys returned under these result names; the rest are upper-cased as they are.
_RENAMED = {"pairs": "CHANGE_PAIRS", "lambda": None, "predictions": None, "references": None}


def results_of(summary: dict) -> dict:
    """The result dict entries of an evaluation summary (core/evaluation.py RasterEvaluation.summary)."""
    results = {}
    for key, value in summary.items():
        name = _RENAMED.get(key, key.upper())
        if name is not None:
            results[name] = value
    return results


class EvaluateAlgorithm(EuroMineAlgorithm):
    """Scores annual footprint predictions against reference masks, per year, pooled and over time."""

    ALG_ID = "evaluate"
    DISPLAY_NAME = "Evaluate footprints (CA-TIoU, IoU, F1)"
    GROUP = "Evaluation"
    GROUP_ID = "evaluation"

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return (
            "<p>Scores annual mining footprint predictions against reference masks: OA, precision, "
            "recall, F1 and IoU per year and pooled over the years; the change-aware temporal IoU "
            "<b>CA-TIoU</b> = (1 − λ)·TIoU + λ·CIoU with its two components (TIoU: footprint "
            "agreement pooled over years; CIoU: gains and losses between consecutive selected "
            "years); and, for chosen pairs of years, change metrics split by interval length "
            "(annual Δ=1, medium Δ=2–4, long Δ≥5). A ratio with a zero denominator is undefined "
            "(null in the results, empty in the CSV), never 0 or 1.</p>"
            "<p><b>PREDICTIONS</b>, <b>REFERENCES</b>: one mask raster per year, matched by the year in "
            "the file or layer name (<code>footprint_2019.tif</code> ↔ <code>Year2019.tif</code>). A "
            "raster's declared nodata value is nodata; every other non-zero value is mining, so "
            "EuroMineNet labels (0/255, no nodata) work as they are. References without a CRS are "
            "accepted when their size equals the prediction's. <b>YEARS</b>: e.g. "
            "<code>2015-2024</code>; empty = every year present in both. <b>LAMBDA</b>: weight of "
            "the change term (0–1, default 0.5). <b>PAIRS</b>: change evaluation, "
            "<code>consecutive</code>, <code>all</code>, <code>first-last</code> or "
            "<code>2016-2019, 2015-2024</code>; empty = none. <b>TABLE</b>: CSV of every figure; "
            "<b>REPORT</b>: optional self-contained HTML report with plots and map panels.</p>"
            "<p>Results: TABLE, REPORT, YEARS, PER_YEAR, POOLED, TIOU, CIOU, CA_TIOU, TRANSITIONS, "
            "CHANGE (per interval class and all), CHANGE_PAIRS, AREA_UNIT.</p>"
            "<p>Example: <code>processing.run('euromine:evaluate', {'PREDICTIONS': "
            "glob.glob('/tmp/fp/footprint_*.tif'), 'REFERENCES': glob.glob('/data/Spain_1/label/Year*.tif'), "
            "'PAIRS': 'all', 'TABLE': '/tmp/eval.csv', 'REPORT': '/tmp/eval.html'})['CA_TIOU']</code></p>"
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "PREDICTIONS", "Predicted footprints (one per year)", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "REFERENCES", "Reference footprints (one per year)", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterString("YEARS", "Years (e.g. 2015-2024 or 2016,2019)", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "LAMBDA", "λ: weight of the change term in CA-TIoU", QgsProcessingParameterNumber.Double,
            defaultValue=0.5, minValue=0.0, maxValue=1.0))
        self.addParameter(QgsProcessingParameterString(
            "PAIRS", "Change pairs (consecutive, all, first-last or 2016-2019, 2015-2024)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination("TABLE", "Metrics table", "CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "REPORT", "HTML report", "HTML files (*.html)", optional=True, createByDefault=False))
        for name, description in (("TIOU", "TIoU"), ("CIOU", "CIoU"), ("CA_TIOU", "CA-TIoU")):
            self.addOutput(QgsProcessingOutputNumber(name, description))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        predictions = layer_files(parameters, "PREDICTIONS", context)
        references = layer_files(parameters, "REFERENCES", context)
        lam = self.parameterAsDouble(parameters, "LAMBDA", context)
        table = Path(self.parameterAsFileOutput(parameters, "TABLE", context))
        report_path = self.parameterAsFileOutput(parameters, "REPORT", context)
        reporter = Reporter(progress=feedback.setProgress, info=feedback.pushInfo, is_canceled=feedback.isCanceled)
        try:
            check_not_inputs([table, Path(report_path) if report_path else None], [*predictions, *references],
                             "choose another TABLE or REPORT")
            pred, ref = match_inputs(predictions, references,
                                     parse_years(self.parameterAsString(parameters, "YEARS", context)))
            pairs = parse_pairs(self.parameterAsString(parameters, "PAIRS", context), list(pred))
            evaluation = evaluate_rasters(pred, ref, pairs, reporter)
            summary = evaluation.summary(lam)
            write_table(summary, table)
            if report_path:
                write_report(evaluation, Path(report_path), lam)
        except EuroMineError as exc:
            raise QgsProcessingException(str(exc)) from exc
        feedback.pushInfo(f"TIoU {_text(summary['tiou'])}   CIoU {_text(summary['ciou'])}   "
                          f"CA-TIoU (λ={lam:g}) {_text(summary['ca_tiou'])}")
        feedback.pushInfo(f"Table: {table}")
        if report_path:
            feedback.pushInfo(f"Report: {report_path}")
        return {"TABLE": str(table), "REPORT": str(report_path) if report_path else None, **results_of(summary)}


def _text(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"
