"""euromine:changelayers — first/last year mined, years active, flicker, change rasters and areas."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from ..core.errors import EuroMineError
from ..core.maps.change_layers import ChangeLayersResult, change_layers
from ..core.maps.temporal_filter import TEMPORAL_FILTERS
from ..core.pairs import parse_pairs
from ..core.years import match_years, parse_years
from .common import EuroMineAlgorithm, layer_files, load_on_completion, processing_error, reporter_for
from .polygons import write_change_polygons

GROUP = "EuroMine change layers"
SUMMARIES = (  # result name, layer name, style
    ("FIRST_YEAR", "First year mined", "first_year.qml"),
    ("LAST_YEAR", "Last year mined", "first_year.qml"),
    ("YEARS_ACTIVE", "Years active", "years_active.qml"),
    ("TRANSITIONS", "Transitions (on/off switches)", "transitions.qml"),
)


def pair_key(pair: tuple[int, int]) -> str:
    """The result-dict key of a pair of years, ``"2016-2017"``."""
    return f"{pair[0]}-{pair[1]}"


def results_of(result: ChangeLayersResult, out_dir: Path) -> dict:
    """The algorithm's result dict for a core result."""
    summaries = dict(zip((name for name, _, _ in SUMMARIES),
                         (result.first_year, result.last_year, result.years_active, result.transitions)))
    return {
        "OUTPUT_FOLDER": str(out_dir),
        "YEARS": result.years,
        **{name: str(path) for name, path in summaries.items()},
        "CHANGE": {pair_key(p): str(path) for p, path in result.change.items()},
        "AREA_HA": {str(y): ha for y, ha in result.area_ha.items()},
        "GAIN_HA": {pair_key(p): a.gain_ha for p, a in result.pairs.items()},
        "LOSS_HA": {pair_key(p): a.loss_ha for p, a in result.pairs.items()},
        "NET_HA": {pair_key(p): a.net_ha for p, a in result.pairs.items()},
        "AREA_TABLE": str(result.table),
    }


class ChangeLayersAlgorithm(EuroMineAlgorithm):
    """Derives per-pixel histories, change rasters and mined areas from annual footprints."""

    ALG_ID = "changelayers"
    DISPLAY_NAME = "Change layers from annual footprints"
    GROUP = "Change"
    GROUP_ID = "change"

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return (
            "<p>From annual mining footprints (any set of years) derives, on exactly their grid: "
            "<b>FIRST_YEAR</b> and <b>LAST_YEAR</b> mapped as mining (uint16, 0 = never mined), "
            "<b>YEARS_ACTIVE</b> (number of years mapped as mining) and <b>TRANSITIONS</b> (on/off "
            "switches between consecutive valid years: the flicker measure), a <b>CHANGE</b> raster per "
            "requested pair of years (0 no change, 1 new mining, 2 mining ended) and an area table: "
            "mined hectares per year with gain and loss since the previous selected year. Areas are "
            "exact for the CRS (per-row ellipsoidal areas for geographic CRS).</p>"
            "<p><b>FOOTPRINTS</b>: one mask raster per year on one shared grid, the year read from the "
            "name (<code>footprint_2019.tif</code>). A raster's declared nodata value is nodata, every "
            "other non-zero value is mining. <b>YEARS</b>: e.g. <code>2015-2024</code>; empty = every "
            "year given. <b>PAIRS</b>: <code>consecutive</code> (default), <code>all</code> (45 pairs "
            "for ten years), <code>first-last</code> or <code>2016-2019, 2015-2024</code>. "
            "<b>OUTPUT_FOLDER</b>: where the rasters go (<code>first_year.tif</code>, "
            "<code>change_2016_2017.tif</code>, …). <b>AREA_TABLE</b>: CSV (year, mined_ha, gain_ha, "
            "loss_ha); empty = <code>area_table.csv</code> in OUTPUT_FOLDER. <b>TEMPORAL_FILTER</b>: "
            "<code>none</code>, or <code>smooth3</code>/<code>smooth5</code>: each year's mask becomes the "
            "majority of a window of 3 or 5 valid years centred on it (shifted inward at the first and "
            "last years, nodata years skipped, a tie keeps the year's value) before anything is derived. "
            "<b>VECTOR_OUTPUT</b>: also write <code>change_polygons.gpkg</code> in OUTPUT_FOLDER (QGIS's "
            "gdal:polygonize): a layer <code>change_A_B</code> per pair (class gain/loss) and "
            "<code>footprint_YYYY</code> per given footprint (class mining), each polygon with area_ha "
            "(ellipsoidal for geographic CRS); no-change and nodata pixels make no polygons.</p>"
            "<p>Nodata: a pixel nodata in some years is summarised over its valid years; nodata in "
            "every year gives nodata (65535 in FIRST/LAST_YEAR, 255 elsewhere). A CHANGE pixel is "
            "nodata when either year is; gain and loss areas count pixels valid in both years.</p>"
            "<p>Results: FIRST_YEAR, LAST_YEAR, YEARS_ACTIVE, TRANSITIONS (paths), CHANGE "
            "(<code>\"2016-2017\"</code> → path), AREA_HA (year → ha), GAIN_HA, LOSS_HA, NET_HA "
            "(pair → ha), AREA_TABLE, YEARS, OUTPUT_FOLDER.</p>"
            "<p>Example: <code>processing.run('euromine:changelayers', {'FOOTPRINTS': "
            "glob.glob('/tmp/fp/footprint_*.tif'), 'PAIRS': 'all', 'OUTPUT_FOLDER': '/tmp/change'})"
            "['NET_HA']['2015-2024']</code></p>"
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FOOTPRINTS", "Annual footprints (one per year)", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterString("YEARS", "Years (e.g. 2015-2024 or 2016,2019)", optional=True))
        self.addParameter(QgsProcessingParameterString(
            "PAIRS", "Change pairs (consecutive, all, first-last or 2016-2019, 2015-2024)", defaultValue="consecutive"))
        self.addParameter(QgsProcessingParameterEnum(
            "TEMPORAL_FILTER", "Temporal filter", options=list(TEMPORAL_FILTERS), defaultValue="none",
            usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "AREA_TABLE", "Area table", "CSV files (*.csv)", optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "VECTOR_OUTPUT", "Also write polygons (GeoPackage, area_ha per polygon)", defaultValue=False))
        for name, description, _ in SUMMARIES:
            self.addOutput(QgsProcessingOutputRasterLayer(name, description))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        paths = layer_files(parameters, "FOOTPRINTS", context)
        out_dir = Path(self.parameterAsString(parameters, "OUTPUT_FOLDER", context))
        table = self.parameterAsFileOutput(parameters, "AREA_TABLE", context)
        try:
            dated = match_years(paths, parse_years(self.parameterAsString(parameters, "YEARS", context)))
            years = [y for y, _ in dated]
            pairs = parse_pairs(self.parameterAsString(parameters, "PAIRS", context), years)
            result = change_layers(dated, pairs, out_dir, reporter_for(feedback), Path(table) if table else None,
                                   self.parameterAsEnumString(parameters, "TEMPORAL_FILTER", context))
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        feedback.pushInfo("\nYear   Mined (ha)   Gain (ha)   Loss (ha)")
        for year in result.years:
            step = next((a for (_, b), a in result.steps.items() if b == year), None)
            gain_loss = "" if step is None else f"{step.gain_ha:11.2f} {step.loss_ha:11.2f}"
            feedback.pushInfo(f"{year} {result.area_ha[year]:12.2f} {gain_loss}")
        outputs = results_of(result, out_dir)
        outputs["VECTOR_OUTPUT"] = None
        if self.parameterAsBoolean(parameters, "VECTOR_OUTPUT", context):
            gpkg = write_change_polygons(out_dir / "change_polygons.gpkg", result.change, dict(dated), context, feedback)
            outputs["VECTOR_OUTPUT"] = str(gpkg)
        for name, layer_name, qml in SUMMARIES:
            load_on_completion(context, Path(outputs[name]), layer_name, qml, GROUP,
                               years=years if qml == "first_year.qml" else ())
        for (a, b), path in result.change.items():
            load_on_completion(context, path, f"Change {a}–{b}", "change.qml", GROUP)
        load_on_completion(context, result.table, "Mined area per year", None, GROUP, vector=True)
        return outputs
