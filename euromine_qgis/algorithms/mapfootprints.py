"""euromine:mapfootprints — annual mining footprint rasters from annual images."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from ..core.errors import EuroMineError
from ..core.maps.footprints import PROBABILITY_TYPES, map_footprints
from ..core.maps.temporal_filter import TEMPORAL_FILTERS
from ..core.years import match_years, parse_years
from .common import (
    EuroMineAlgorithm,
    engine_parameters,
    layer_sources,
    load_model,
    load_on_completion,
    model_help,
    model_parameters,
    processing_error,
    reporter_for,
    tile_settings,
)

PROBABILITY_CHOICES = ("none", *PROBABILITY_TYPES)
FOOTPRINT_GROUP = "EuroMine footprints"
PROBABILITY_GROUP = "EuroMine mining probabilities"


class MapFootprintsAlgorithm(EuroMineAlgorithm):
    """Maps the mining footprint of each selected year with a footprint model."""

    ALG_ID = "mapfootprints"
    DISPLAY_NAME = "Map mining footprints"
    GROUP = "Mapping"
    GROUP_ID = "mapping"

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return (
            "<p>Maps mining footprints in annual 10-band Sentinel-2 images, one raster per year "
            "(<code>footprint_YYYY.tif</code>: 1 mining, 0 not mining, 255 nodata) on exactly the "
            "input grid, and reports the mapped area per year in hectares (geodesic for "
            "geographic CRS).</p>"
            "<p><b>IMAGES</b>: one image per year; the year is read from the file or layer name "
            "(e.g. <code>Year2019.tif</code>). <b>YEARS</b>: optional, e.g. <code>2015-2024</code> "
            "or <code>2016,2019</code>; empty maps every year found. <b>MODEL</b>: a bundled model; "
            "<b>MODEL_FILE</b>: your own EuroMine ONNX model (overrides MODEL). <b>THRESHOLD</b>: "
            "mining probability above which a pixel is mapped. <b>OUTPUT_FOLDER</b>: where the "
            "rasters go. <b>PROBABILITIES</b>: also write <code>probability_YYYY.tif</code> "
            "(uint8 0–255 with a mask band for nodata, or float32 0–1 with NaN nodata). "
            "<b>TEMPORAL_FILTER</b>: <code>none</code>, or <code>smooth3</code>/<code>smooth5</code>: "
            "each year's probability becomes the mean over a window of 3 or 5 valid years centred on "
            "it (shifted inward at the first and last years; nodata years skipped) before THRESHOLD "
            "applies, which removes one-year flicker; every image must then share one grid. Advanced: "
            "DEVICE (auto takes TensorRT or CUDA when they load, else CPU; an explicit GPU device that "
            "cannot be used is an error), TILE_OVERLAP, BATCH_SIZE (0: automatic; halved automatically "
            "when the GPU runs out of memory), and BANDS/MEAN/STD for a model without EuroMine metadata.</p>"
            f"<p>Bundled models:</p><ul>{model_help()}</ul>"
            "<p>Results: OUTPUT_FOLDER, FOOTPRINTS (paths), PROBABILITY_RASTERS, AREA_HA (year → "
            "hectares), YEARS, MODEL_NAME, PROVIDER (the onnxruntime execution provider that ran), "
            "DEVICE_NAME (GPU or CPU model).</p>"
            "<p>Example: <code>processing.run('euromine:mapfootprints', {'IMAGES': [...], "
            "'YEARS': '2015-2024', 'MODEL': 'spectral_baseline', 'OUTPUT_FOLDER': '/tmp/fp'})</code></p>"
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers("IMAGES", "Annual images", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterString("YEARS", "Years (e.g. 2015-2024 or 2016,2019)", optional=True))
        for p in model_parameters():
            self.addParameter(p)
        for p in engine_parameters():
            self.addParameter(p)
        self.addParameter(
            QgsProcessingParameterEnum(
                "PROBABILITIES", "Also write mining probabilities", options=list(PROBABILITY_CHOICES),
                defaultValue="none", usesStaticStrings=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                "TEMPORAL_FILTER", "Temporal filter", options=list(TEMPORAL_FILTERS),
                defaultValue="none", usesStaticStrings=True,
            )
        )
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputMultipleLayers("FOOTPRINTS", "Footprint rasters"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        sources = layer_sources(parameters, "IMAGES", context)
        out_dir = Path(self.parameterAsString(parameters, "OUTPUT_FOLDER", context))
        try:
            dated = match_years([path for path, _ in sources],
                                parse_years(self.parameterAsString(parameters, "YEARS", context)),
                                names=[layer_name for _, layer_name in sources])
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        model = load_model(self, parameters, context, feedback)
        settings = tile_settings(self, parameters, context)
        probabilities = self.parameterAsEnumString(parameters, "PROBABILITIES", context)
        try:
            results = map_footprints(
                dated, model, out_dir, threshold=self.parameterAsDouble(parameters, "THRESHOLD", context),
                settings=settings, reporter=reporter_for(feedback),
                probabilities=None if probabilities == "none" else probabilities,
                temporal_filter=self.parameterAsEnumString(parameters, "TEMPORAL_FILTER", context),
            )
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        feedback.pushInfo("\nYear   Mining area (ha)   Footprint")
        for r in results:
            feedback.pushInfo(f"{r.year}   {r.mining_ha:16.2f}   {r.footprint}")
            load_on_completion(context, r.footprint, f"Footprint {r.year}", "footprint.qml", FOOTPRINT_GROUP)
            if r.probability:
                load_on_completion(context, r.probability, f"Mining probability {r.year}",
                                   f"probability_{probabilities}.qml", PROBABILITY_GROUP)
        return {
            "OUTPUT_FOLDER": str(out_dir),
            "FOOTPRINTS": [str(r.footprint) for r in results],
            "AREA_HA": {str(r.year): r.mining_ha for r in results},
            "YEARS": [r.year for r in results],
            "MODEL_NAME": model.info.name,
            "PROVIDER": model.provider,
            "DEVICE_NAME": model.device_name,
            "PROBABILITY_RASTERS": [str(r.probability) for r in results if r.probability],
        }
