"""Evaluation from files to files: year-matched prediction and reference rasters in, the metrics
table and the optional HTML report out, in one call (what euromine:evaluate runs)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io.outputs import check_not_inputs
from ..pairs import parse_pairs
from ..progress import Reporter
from .evaluation import evaluate_rasters, match_inputs
from .report import write_report, write_table


def evaluate_files(
    predictions: Sequence[Path],
    references: Sequence[Path],
    table: Path,
    report: Path | None = None,
    years: Sequence[int] | None = None,
    pairs: str | None = None,
    *,
    lam: float,
    reporter: Reporter = Reporter(),
) -> dict[str, Any]:
    """Score ``predictions`` against ``references``, write the CSV ``table`` and, when given, the
    HTML ``report``, and return every figure (RasterEvaluation.summary).

    Files are paired by the year in their names (only ``years`` when given, else every year both
    have); ``pairs`` is a PAIRS text (see parse_pairs) for the change evaluation, empty for none;
    ``lam`` weighs the change term of CA-TIoU. A table or report that would overwrite an input is
    refused before anything is read.
    """
    check_not_inputs([table, report], [*predictions, *references], "choose another TABLE or REPORT")
    pred, ref = match_inputs(predictions, references, years)
    evaluation = evaluate_rasters(pred, ref, parse_pairs(pairs, list(pred)), reporter)
    summary = evaluation.summary(lam)
    write_table(summary, Path(table))
    if report is not None:
        write_report(evaluation, Path(report), lam)
    return summary
