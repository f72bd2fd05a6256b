"""The outcome of a pre-run check (DRY_RUN, ``euromine check``): the checks' result dict and
report lines, their warnings on the log; nothing is written."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..progress import Reporter
from ..results import dry_run_lines, dry_run_results
from .spec import Outcome

if TYPE_CHECKING:
    from ..engine.model import Model
    from ..maps.preflight import RunCheck


def dry_run_outcome(reports: Mapping[str, RunCheck], model: Model, reporter: Reporter) -> Outcome:
    """The outcome of the pre-run checks ``reports`` (one under the key "", or one per site) of ``model``."""
    for report in reports.values():
        for warning in report.warnings:
            reporter.warn(warning)
    return Outcome(dry_run_results(reports, model), list(dry_run_lines(reports)))
