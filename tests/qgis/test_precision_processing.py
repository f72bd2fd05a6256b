"""PRECISION through real QGIS Processing (processing.run): an ordinary enum on every model-running
algorithm (so the batch dialog and the modeler take it), the int8 sibling run on request with the
log saying so, auto's reason in the log, and fp16 refused on the CPU with nothing written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject

from euromine_qgis.core.engine.precision import MIN_AGREEMENT, PRECISIONS

MODEL_ALGORITHMS = ("euromine:mapfootprints", "euromine:detectchange", "euromine:mapsites")


class Log(QgsProcessingFeedback):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info: str) -> None:  # noqa: N802 (QGIS API)
        self.lines.append(info)


def run(parameters: dict) -> tuple[dict, Log]:
    context, log = QgsProcessingContext(), Log()
    context.setProject(QgsProject())
    return processing.run("euromine:mapfootprints", parameters, context=context, feedback=log), log


@pytest.mark.parametrize("alg_id", MODEL_ALGORITHMS)
def test_precision_is_an_enum_defaulting_to_auto(euromine_provider, alg_id):
    definition = QgsApplication.processingRegistry().algorithmById(alg_id).parameterDefinition("PRECISION")
    assert definition.type() == "enum" and definition.usesStaticStrings()
    assert definition.options() == list(PRECISIONS) and definition.defaultValue() == "auto"


def test_int8_runs_the_sibling_and_agrees_with_fp32(euromine_provider, sites, tmp_path):
    image = str(sites[1] / "image" / "Year2020.tif")
    maps = {}
    for precision in ("fp32", "int8"):
        result, log = run({"IMAGES": [image], "MODEL": "unet_footprint", "PRECISION": precision,
                           "OUTPUT_FOLDER": str(tmp_path / precision)})
        assert result["PRECISION"] == precision
        file = "unet_footprint.int8.onnx" if precision == "int8" else "unet_footprint.onnx"
        assert f"Precision: {precision} ({file}; asked for)" in log.lines
        with rasterio.open(result["FOOTPRINTS"][0]) as src:
            maps[precision] = src.read(1)
    valid = maps["fp32"] != 255
    assert np.mean(maps["fp32"][valid] == maps["int8"][valid]) >= MIN_AGREEMENT


def test_auto_logs_its_reason(euromine_provider, sites, tmp_path):
    result, log = run({"IMAGES": [str(sites[1] / "image" / "Year2020.tif")], "MODEL": "unet_footprint",
                       "OUTPUT_FOLDER": str(tmp_path)})
    line = next(line for line in log.lines if line.startswith("Precision: "))
    assert line.startswith(f"Precision: {result['PRECISION']} (")
    assert "measured: fp32 1.00×, int8 " in line or "cached from " in line


def test_fp16_on_the_cpu_fails_naming_the_provider_and_writes_nothing(euromine_provider, sites, tmp_path):
    with pytest.raises(QgsProcessingException, match="PRECISION=fp16 needs CUDAExecutionProvider.*CPUExec"):
        run({"IMAGES": [str(sites[1] / "image" / "Year2020.tif")], "MODEL": "unet_footprint", "DEVICE": "cpu",
             "PRECISION": "fp16", "OUTPUT_FOLDER": str(tmp_path / "out")})
    assert not any(Path(tmp_path).rglob("*.tif"))
