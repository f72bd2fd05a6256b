"""The bundled trained models through real QGIS Processing: the series model in mapfootprints,
the change model in detectchange, and the synthetic-training label wherever a user sees them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

from euromine_qgis.core.engine.bundled import SYNTHETIC_LABEL, bundled_models, resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.footprints import map_footprints
from tests.plain_run import AUTO_TILES, PLAIN_INPUT


class Log(QgsProcessingFeedback):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def pushInfo(self, info: str) -> None:  # noqa: N802 (QGIS API)
        self.lines.append(info)

    def pushWarning(self, warning: str) -> None:  # noqa: N802 (QGIS API)
        self.warnings.append(warning)

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802,N803 (QGIS API)
        self.lines.append(error)


def images(site: Path) -> list[str]:
    return sorted(str(p) for p in (site / "image").glob("Year*.tif"))


def test_model_choices_follow_the_task(euromine_provider):
    registry = QgsApplication.processingRegistry()
    tasks = {m.name: m.task for m in bundled_models()}
    mapping = registry.algorithmById("euromine:mapfootprints").parameterDefinition("MODEL").options()
    assert set(mapping) == {n for n, t in tasks.items() if t in ("footprint", "footprint_series")}
    change = registry.algorithmById("euromine:detectchange").parameterDefinition("CHANGE_MODEL").options()
    assert change and set(change) == {n for n, t in tasks.items() if t == "change"}
    help_text = registry.algorithmById("euromine:mapfootprints").shortHelpString()
    trained = [m for m in bundled_models() if m.synthetic_training]
    assert trained and all(m.name in help_text for m in trained) and SYNTHETIC_LABEL in help_text


@pytest.mark.slow
def test_series_model_maps_every_year_in_one_run(euromine_provider, sites, tmp_path):
    series = next(m.name for m in bundled_models() if m.task == "footprint_series")
    site = sites[1]
    context, log = QgsProcessingContext(), Log()
    project = QgsProject()
    context.setProject(project)
    result = processing.run("euromine:mapfootprints", {"IMAGES": images(site), "MODEL": series,
                                                       "OUTPUT_FOLDER": str(tmp_path / "qgis")},
                            context=context, feedback=log)
    assert len(result["FOOTPRINTS"]) == 10
    assert any("trained on synthetic sites" in line for line in log.warnings)
    assert any("10 years mapped together" in line for line in log.lines)
    model = Model(resolve_bundled(series), device="cpu", scale=1.0,
                  precision=result["PRECISION"])  # the precision auto chose
    core = map_footprints([(2015 + t, Path(p)) for t, p in enumerate(images(site))], model, tmp_path / "core",
                          threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                          image_input=PLAIN_INPUT)
    for path, expected in zip(sorted(result["FOOTPRINTS"]), core, strict=True):
        with rasterio.open(path) as a, rasterio.open(expected.footprint) as b:
            np.testing.assert_array_equal(a.read(1), b.read(1))


def test_detectchange_runs_the_bundled_change_model(euromine_provider, sites, tmp_path):
    context, log = QgsProcessingContext(), Log()
    project = QgsProject()
    context.setProject(project)
    result = processing.run("euromine:detectchange", {
        "SERIES": images(sites[1]), "BEFORE_YEAR": 2015, "AFTER_YEAR": 2024, "METHOD": "change_model",
        "MODEL": "unet_footprint", "CHANGE": str(tmp_path / "change.tif")}, context=context, feedback=log)
    assert result["METHOD"] == "change_model"
    assert any("Change model 'fc_siam_diff_change'" in line and SYNTHETIC_LABEL in line for line in log.warnings)
    assert sum(line.startswith("Execution provider: ") for line in log.lines) == 2  # footprint and change model
    with rasterio.open(result["CHANGE"]) as src:
        values = set(np.unique(src.read(1)).tolist())
    assert values <= {0, 1, 2, 255} and result["GAIN_HA"] >= 0 and result["LOSS_HA"] >= 0
