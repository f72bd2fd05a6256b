"""euromine:composites in Processing: the spec's algorithm. On the first run without the archive
packages (pystac-client), they are installed into the profile's private dependencies folder by the
plugin's installer (as euromine:installdependencies with PACKAGES archive would); the last year's
composite of each site is loaded when the run completes."""
from __future__ import annotations

import importlib

from qgis.core import QgsApplication

from ..core.app import composites
from ..core.app.execution import run_spec
from ..core.app.spec import Outcome
from ..core.archive.packages import ARCHIVE_PINS
from ..dependencies.install import install_archive
from .base import EuroMineAlgorithm
from .layers import load_on_completion


class CompositesAlgorithm(EuroMineAlgorithm):
    """Builds annual composites of each site from a STAC API."""

    SPEC = composites.SPEC

    def execute(self, values, reporter, context, feedback) -> Outcome:
        missing = composites.archive_missing()
        if missing:
            feedback.pushWarning(self.tr("The composites need {packages}, which this QGIS lacks: installing them "
                                         "into the profile's private folder (QGIS's own packages are not "
                                         "changed)").format(packages=", ".join(ARCHIVE_PINS)))
            install_archive(QgsApplication.qgisSettingsDirPath(), reporter.sub_range(0.0, 10.0))
            importlib.invalidate_caches()
        return run_spec(self.SPEC, values, reporter)

    def present(self, outcome, values, context, feedback) -> dict:
        if values[composites.DRY_RUN.name]:
            return {}
        for site in outcome.value:
            made = [y for y in site.years if y.image is not None]
            if made:
                load_on_completion(context, made[-1].image, f"{site.name} {made[-1].year}", None)
        return {}
