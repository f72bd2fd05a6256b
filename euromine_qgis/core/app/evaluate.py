"""euromine:evaluate — CA-TIoU and the benchmark metrics of annual predictions against references."""
from __future__ import annotations

from ..executor import Executor
from ..progress import Reporter
from ..results import evaluation_results
from ..scoring.evaluate_files import evaluate_files
from ..years import parse_years
from . import params
from .spec import AlgorithmSpec, Kind, Outcome, Output, Param, Values, files

PREDICTIONS = Param("PREDICTIONS", Kind.RASTERS, "Predicted footprints (one per year)")
REFERENCES = Param(
    "REFERENCES", Kind.RASTERS, "Reference footprints (one per year)",
    help="matched with PREDICTIONS by the year in the file or layer name (<code>footprint_2019.tif</code> ↔ "
         "<code>Year2019.tif</code>). A raster's declared nodata value is nodata; every other non-zero value is "
         "mining, so EuroMineNet labels (0/255, no nodata) work as they are. References without a CRS are "
         "accepted when their size equals the prediction's.")
TABLE = Param("TABLE", Kind.OUTPUT_FILE, "Metrics table", extension="CSV files (*.csv)", temporary=True,
              help="CSV of every figure.")
REPORT = Param("REPORT", Kind.OUTPUT_FILE, "HTML report", extension="HTML files (*.html)", optional=True,
               help="a self-contained HTML report with plots and map panels.")


def score_text(value: float | None) -> str:
    """A score as the log shows it: four decimals, or "undefined" (a ratio with a zero denominator)."""
    return "undefined" if value is None else f"{value:.4f}"


def run(values: Values, reporter: Reporter, _executor: Executor) -> Outcome:
    """Score the predictions against the references into TABLE (and REPORT)."""
    lam = values[params.LAMBDA.name]
    table, report = values[TABLE.name], values[REPORT.name]
    summary = evaluate_files(files(values[PREDICTIONS.name]), files(values[REFERENCES.name]), table, report,
                             years=parse_years(values[params.YEARS.name]), pairs=values[params.PAIRS.name] or None,
                             lam=lam, reporter=reporter)
    lines = [f"TIoU {score_text(summary['tiou'])}   CIoU {score_text(summary['ciou'])}   "
             f"CA-TIoU (λ={lam:g}) {score_text(summary['ca_tiou'])}", f"Table: {table}"]
    if report:
        lines.append(f"Report: {report}")
    results = {TABLE.name: str(table), REPORT.name: str(report) if report else None, **evaluation_results(summary)}
    return Outcome(results, lines, summary)


SPEC = AlgorithmSpec(
    id="evaluate",
    title="Evaluate footprints (CA-TIoU, IoU, F1)",
    group="Evaluation",
    group_id="evaluation",
    summary="CA-TIoU and the benchmark metrics of annual predictions against references",
    description=(
        "<p>Scores annual mining footprint predictions against reference masks: OA, precision, recall, F1 and IoU "
        "per year and pooled over the years; the change-aware temporal IoU <b>CA-TIoU</b> = (1 − λ)·TIoU + λ·CIoU "
        "with its two components (TIoU: footprint agreement pooled over years; CIoU: gains and losses between "
        "consecutive selected years); and, for chosen pairs of years, change metrics split by interval length "
        "(annual Δ=1, medium Δ=2–4, long Δ≥5). A ratio with a zero denominator is undefined (null in the results, "
        "empty in the CSV), never 0 or 1.</p>"),
    params=(PREDICTIONS, REFERENCES, params.YEARS, params.LAMBDA,
            params.PAIRS.but(default=None, optional=True,
                             help=params.PAIRS.help + " Empty: no change evaluation."),
            TABLE, REPORT),
    outputs=(Output("TIOU", "number", "TIoU"), Output("CIOU", "number", "CIoU"),
             Output("CA_TIOU", "number", "CA-TIoU")),
    results="TABLE, REPORT, YEARS, PER_YEAR, POOLED, TIOU, CIOU, CA_TIOU, TRANSITIONS, CHANGE (per interval class "
            "and all), CHANGE_PAIRS, AREA_UNIT.",
    example="processing.run('euromine:evaluate', {'PREDICTIONS': glob.glob('/tmp/fp/footprint_*.tif'), "
            "'REFERENCES': glob.glob('/data/Spain_1/label/Year*.tif'), 'PAIRS': 'all', 'TABLE': '/tmp/eval.csv', "
            "'REPORT': '/tmp/eval.html'})['CA_TIOU']",
    run=run,
)
