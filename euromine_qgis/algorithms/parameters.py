"""The parameters several EuroMine algorithms share: their names, one factory each, and the
readers that turn their values into what the engine takes."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingParameterBoolean,
    QgsProcessingContext,
    QgsProcessingDestinationParameter,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..core.maps.temporal_filter import TEMPORAL_FILTERS
from ..core.years import parse_years
from ..qgis_compat import BEHAVIOR_FILE, FLAG_ADVANCED, FLAG_OPTIONAL, NUMBER_DOUBLE, NUMBER_INTEGER
from .translation import tr

if TYPE_CHECKING:
    from qgis.core import QgsProcessingFeedback

    from ..core.engine.inference import TileSettings
    from ..core.engine.model import Model
    from ..core.maps.preflight import RunCheck

YEARS = "YEARS"
PAIRS = "PAIRS"
TEMPORAL_FILTER = "TEMPORAL_FILTER"
LAMBDA = "LAMBDA"
DEVICE = "DEVICE"
PRECISION = "PRECISION"
THRESHOLD = "THRESHOLD"
TILE_OVERLAP = "TILE_OVERLAP"
BATCH_SIZE = "BATCH_SIZE"
OUTPUT_FOLDER = "OUTPUT_FOLDER"
MIN_AREA_HA = "MIN_AREA_HA"
DRY_RUN = "DRY_RUN"
SCHEDULER = "SCHEDULER"


def advanced(parameter: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    """``parameter``, shown under the dialog's Advanced parameters."""
    parameter.setFlags(parameter.flags() | FLAG_ADVANCED)
    return parameter


def years_parameter() -> QgsProcessingParameterString:
    """YEARS: an optional selection such as ``2015-2024`` or ``2016,2019``."""
    return QgsProcessingParameterString(YEARS, tr("Years (e.g. 2015-2024 or 2016,2019)"), optional=True)


def read_years(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> list[int] | None:
    """The years YEARS selects, or None for every year."""
    return parse_years(alg.parameterAsString(parameters, YEARS, context))


def pairs_parameter(default: str | None) -> QgsProcessingParameterString:
    """PAIRS of years for change; optional (no change) when there is no ``default``."""
    return QgsProcessingParameterString(
        PAIRS, tr("Change pairs (consecutive, all, first-last or 2016-2019, 2015-2024)"),
        defaultValue=default, optional=default is None,
    )


def temporal_filter_parameter() -> QgsProcessingParameterEnum:
    """TEMPORAL_FILTER: none, smooth3 or smooth5."""
    return QgsProcessingParameterEnum(
        TEMPORAL_FILTER, tr("Temporal filter"), options=list(TEMPORAL_FILTERS), defaultValue="none",
        usesStaticStrings=True,
    )


def min_area_parameter() -> QgsProcessingParameterNumber:
    """MIN_AREA_HA: the minimum mapping unit; smaller mining patches and holes are removed (0 keeps all)."""
    return QgsProcessingParameterNumber(
        MIN_AREA_HA, tr("Minimum mapping unit (ha): smaller mining patches and holes are removed"),
        NUMBER_DOUBLE, defaultValue=0.0, minValue=0.0,
    )


def scheduler_parameter() -> QgsProcessingParameterString:
    """SCHEDULER (advanced): run the sites as tasks of a Dask cluster, tcp://HOST:8786 or local:N (empty: here)."""
    return advanced(QgsProcessingParameterString(
        SCHEDULER, tr("Dask scheduler: tcp://HOST:8786, or local:N worker processes (empty: run here)"),
        defaultValue="", optional=True))


def dry_run_parameter() -> QgsProcessingParameterBoolean:
    """DRY_RUN: check the inputs and report what the run would do (maps.preflight), writing nothing."""
    return QgsProcessingParameterBoolean(
        DRY_RUN, tr("Dry run: check the inputs and estimate tiles, memory and time; write nothing"),
        defaultValue=False)


def read_dry_run(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> bool:
    """Whether DRY_RUN is set."""
    return alg.parameterAsBoolean(parameters, DRY_RUN, context)


def dry_run_results(reports: dict[str, RunCheck], model: Model, feedback: QgsProcessingFeedback) -> dict:
    """Log each pre-run check (one per site, or one under the key "") with its warnings and return
    the result dict (core.results.dry_run_results: DRY_RUN_REPORT and the model)."""
    from ..core.results import dry_run_lines
    from ..core.results import dry_run_results as results

    for line in dry_run_lines(reports):
        feedback.pushInfo(line)
    for report in reports.values():
        for warning in report.warnings:
            feedback.pushWarning(warning)
    return results(reports, model)


def lambda_parameter() -> QgsProcessingParameterNumber:
    """LAMBDA: the weight of the change term in CA-TIoU."""
    return QgsProcessingParameterNumber(
        LAMBDA, tr("λ: weight of the change term in CA-TIoU"), NUMBER_DOUBLE,
        defaultValue=0.5, minValue=0.0, maxValue=1.0,
    )


def temporary_by_default(parameter: QgsProcessingDestinationParameter) -> QgsProcessingDestinationParameter:
    """``parameter``, written to QGIS's temporary output when it is left out.

    QGIS 3.22's qgis_process and processing.run reject a missing mandatory destination even
    when its default is TEMPORARY_OUTPUT, so the parameter is also marked optional: left out (or
    skipped in the dialog) it still gets a temporary file or folder, never nothing."""
    parameter.setDefaultValue(QgsProcessing.TEMPORARY_OUTPUT)
    parameter.setFlags(parameter.flags() | FLAG_OPTIONAL)
    return parameter


def output_folder_parameter() -> QgsProcessingParameterFolderDestination:
    """OUTPUT_FOLDER: where an algorithm writes its rasters; a new temporary folder when not given."""
    return temporary_by_default(QgsProcessingParameterFolderDestination(OUTPUT_FOLDER, tr("Output folder")))


def read_output_folder(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> Path:
    """The folder OUTPUT_FOLDER names, with TEMPORARY_OUTPUT resolved to a new temporary folder."""
    return Path(alg.parameterAsFileOutput(parameters, OUTPUT_FOLDER, context))


def device_parameter() -> QgsProcessingParameterEnum:
    """DEVICE (advanced): auto, tensorrt, cuda or cpu."""
    from ..core.engine.devices import DEVICES  # onnxruntime's module: imported where a model is declared

    return advanced(QgsProcessingParameterEnum(
        DEVICE, tr("Execution device"), options=list(DEVICES), defaultValue="auto", usesStaticStrings=True,
    ))


def precision_parameter() -> QgsProcessingParameterEnum:
    """PRECISION (advanced): auto (measured on first use), fp32, int8 or fp16 (CUDA and TensorRT)."""
    from ..core.engine.precision import PRECISIONS  # the engine's module: imported where a model is declared

    return advanced(QgsProcessingParameterEnum(
        PRECISION, tr("Numeric precision (auto: the fastest measured here within the accuracy bounds)"),
        options=list(PRECISIONS), defaultValue="auto", usesStaticStrings=True,
    ))


def model_file_parameter(name: str, description: str) -> QgsProcessingParameterFile:
    """An optional .onnx file that overrides a bundled model."""
    return QgsProcessingParameterFile(
        name, description, behavior=BEHAVIOR_FILE, extension="onnx", optional=True,
    )


def engine_parameters() -> list[QgsProcessingParameterDefinition]:
    """THRESHOLD, and the advanced TILE_OVERLAP and BATCH_SIZE of the inference engine."""
    threshold = QgsProcessingParameterNumber(
        THRESHOLD, tr("Probability threshold"), NUMBER_DOUBLE,
        defaultValue=0.5, minValue=0.0, maxValue=1.0,
    )
    overlap = QgsProcessingParameterNumber(
        TILE_OVERLAP, tr("Tile overlap (pixels; empty = from the model: exact whole-scene results)"),
        NUMBER_INTEGER, defaultValue=None, minValue=0, optional=True,
    )
    batch = QgsProcessingParameterNumber(
        BATCH_SIZE, tr("Tiles per batch (0 = automatic: by tile size, more on a GPU)"),
        NUMBER_INTEGER, defaultValue=0, minValue=0,
    )
    return [threshold, advanced(overlap), advanced(batch)]


def _optional_int(alg: QgsProcessingAlgorithm, parameters: dict, name: str, context: QgsProcessingContext) -> int | None:
    """An optional integer parameter: None when it is not set (parameterAsInt would give 0)."""
    value = parameters.get(name)
    if value is None or value == "" or (hasattr(value, "isNull") and value.isNull()):
        return None
    return alg.parameterAsInt(parameters, name, context)


def read_tile_settings(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> TileSettings:
    """The engine's tiling from TILE_OVERLAP and BATCH_SIZE."""
    from ..core.engine.inference import TileSettings

    return TileSettings(
        overlap=_optional_int(alg, parameters, TILE_OVERLAP, context),
        batch_size=alg.parameterAsInt(parameters, BATCH_SIZE, context),
    )
