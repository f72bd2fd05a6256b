"""euromine:changelayers — first/last year mined, years active, flicker, change rasters and areas,
the per-pixel TRAJECTORY and the site's trajectory figures."""
from __future__ import annotations

import tempfile
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from ..core.maps.change_layers import ChangeLayersResult, change_layers
from ..core.maps.trajectory import SiteTrajectory
from ..core.pairs import parse_pairs
from ..core.results import change_layers_results
from ..core.scoring.small_multiples import write_small_multiples
from ..qgis_compat import SOURCE_RASTER
from .base import EuroMineAlgorithm, reporter_for
from .footprint_polygons import write_footprint_polygons
from .inputs import dated_layers
from .layers import load_on_completion
from .mapfootprints import FOOTPRINT_GROUP, PROBABILITY_GROUP
from .parameters import (
    MIN_AREA_HA,
    PAIRS,
    TEMPORAL_FILTER,
    min_area_parameter,
    output_folder_parameter,
    pairs_parameter,
    read_output_folder,
    temporal_filter_parameter,
    temporary_by_default,
    years_parameter,
)
from .polygons import write_change_polygons
from .translation import tr

GROUP = "EuroMine change layers"
SUMMARIES = (  # result name, layer name, style
    ("FIRST_YEAR", "First year mined", "first_year.qml"),
    ("LAST_YEAR", "Last year mined", "first_year.qml"),
    ("YEARS_ACTIVE", "Years active", "years_active.qml"),
    ("TRANSITIONS", "Transitions (on/off switches)", "transitions.qml"),
)
SMALL_MULTIPLES = "footprints_by_year.png"  # in OUTPUT_FOLDER
SHOWN = ("FIRST_YEAR", "YEARS_ACTIVE")  # the summaries checked when loaded; the other layers start unchecked


class ChangeLayersAlgorithm(EuroMineAlgorithm):
    """Derives per-pixel histories, change rasters and mined areas from annual footprints."""

    ALG_ID = "changelayers"
    DISPLAY_NAME = "Change layers from annual footprints"
    GROUP = "Change"
    GROUP_ID = "change"

    FOOTPRINTS = "FOOTPRINTS"
    AREA_TABLE = "AREA_TABLE"
    VECTOR_OUTPUT = "VECTOR_OUTPUT"
    TRAJECTORY = "TRAJECTORY"
    FOOTPRINT_POLYGONS = "FOOTPRINT_POLYGONS"
    SITE_NAME = "SITE_NAME"
    SMALL_MULTIPLES = "SMALL_MULTIPLES"

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.FOOTPRINTS, self.tr("Annual footprints (one per year)"), SOURCE_RASTER))
        self.addParameter(years_parameter())
        self.addParameter(pairs_parameter(default="consecutive"))
        self.addParameter(temporal_filter_parameter())
        self.addParameter(min_area_parameter())
        self.addParameter(output_folder_parameter())
        self.addParameter(QgsProcessingParameterFileDestination(
            self.AREA_TABLE, self.tr("Area table"), self.tr("CSV files (*.csv)"), optional=True, createByDefault=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.VECTOR_OUTPUT, self.tr("Also write polygons (GeoPackage, area_ha per polygon)"), defaultValue=False))
        self.addParameter(temporary_by_default(QgsProcessingParameterRasterDestination(
            self.TRAJECTORY, self.tr("Trajectory (class × 10000 + year)"))))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.FOOTPRINT_POLYGONS, self.tr("Footprint polygons per year (site, year, area_ha)"),
            self.tr("GeoPackage (*.gpkg)"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterString(
            self.SITE_NAME, self.tr("Site name for the polygons' site field (default: the output folder's name)"),
            optional=True))
        for name, description, _ in SUMMARIES:
            self.addOutput(QgsProcessingOutputRasterLayer(name, self.tr(description)))
        self.addOutput(QgsProcessingOutputFile(self.SMALL_MULTIPLES, self.tr("Footprints by year (PNG)")))

    def process(self, parameters, context, feedback) -> dict:
        dated = dated_layers(self, parameters, self.FOOTPRINTS, context)
        years = [y for y, _ in dated]
        out_dir = read_output_folder(self, parameters, context)
        table = self.parameterAsFileOutput(parameters, self.AREA_TABLE, context)
        vector = self.parameterAsBoolean(parameters, self.VECTOR_OUTPUT, context)
        polygons = self.parameterAsFileOutput(parameters, self.FOOTPRINT_POLYGONS, context)
        drawn = vector or bool(polygons)
        # Polygons are drawn from the (filtered, sieved) masks the areas measure, kept only while drawn.
        with (tempfile.TemporaryDirectory(dir=QgsProcessingUtils.tempFolder()) if drawn else nullcontext()) as masks:
            result = change_layers(dated, parse_pairs(self.parameterAsString(parameters, PAIRS, context), years),
                                   out_dir, reporter_for(feedback), Path(table) if table else None,
                                   self.parameterAsEnumString(parameters, TEMPORAL_FILTER, context),
                                   Path(masks) if drawn else None,
                                   min_area_ha=self.parameterAsDouble(parameters, MIN_AREA_HA, context),
                                   trajectory=Path(self.parameterAsOutputLayer(parameters, self.TRAJECTORY, context)))
            gpkg = self._draw_polygons(parameters, context, feedback, result, out_dir, vector, polygons)
        feedback.pushInfo(self.tr("\nYear   Mined (ha)   Gain (ha)   Loss (ha)"))
        for year in result.years:
            step = next((a for (_, b), a in result.steps.items() if b == year), None)
            gain_loss = "" if step is None else f"{step.gain_ha:11.2f} {step.loss_ha:11.2f}"
            feedback.pushInfo(f"{year} {result.area_ha[year]:12.2f} {gain_loss}")
        outputs = change_layers_results(result, out_dir)
        outputs[self.SMALL_MULTIPLES] = str(write_small_multiples(
            {y: p for y, p in dated if y in result.years}, out_dir / SMALL_MULTIPLES,
            self.parameterAsString(parameters, self.SITE_NAME, context) or None))
        outputs[self.VECTOR_OUTPUT] = str(gpkg) if gpkg else None
        outputs[self.FOOTPRINT_POLYGONS] = polygons or None
        _log_trajectory(result.site, feedback)
        load = partial(load_on_completion, context, group=self.tr(GROUP), below=_per_year_groups())
        span = (result.years[0], result.years[-1])  # summaries cover every year: drawn at every time step
        for name, layer_name, qml in SUMMARIES:
            load(Path(outputs[name]), self.tr(layer_name), qml, years=years if qml == "first_year.qml" else (),
                 span=span, checked=name in SHOWN)
        for (a, b), path in result.change.items():  # the change seen from year a + 1 up to year b
            load(path, self.tr("Change {a}–{b}").format(a=a, b=b), "change.qml", span=(a + 1, b), checked=False)
        load(result.table, self.tr("Mined area per year"), None, vector=True)
        load(result.trajectory, self.tr("Trajectory"), "trajectory.qml", span=span, checked=False)
        return outputs

    def _draw_polygons(self, parameters, context, feedback, result: ChangeLayersResult, out_dir: Path, vector: bool,
                       polygons: str) -> Path | None:
        """VECTOR_OUTPUT's change_polygons.gpkg (returned, or None) and FOOTPRINT_POLYGONS, from ``result.masks``."""
        if polygons:
            site = self.parameterAsString(parameters, self.SITE_NAME, context) or out_dir.name
            write_footprint_polygons(Path(polygons), [(site, y, p) for y, p in result.masks.items()], context,
                                     feedback)
            load_on_completion(context, Path(polygons), self.tr("Footprint polygons per year"), None,
                               self.tr(GROUP), vector=True, year_field="year", checked=False, below=_per_year_groups())
        if not vector:
            return None
        return write_change_polygons(out_dir / "change_polygons.gpkg", result.change, result.masks, context, feedback)


def _log_trajectory(site: SiteTrajectory, feedback) -> None:
    """The site's trajectory figures in the log."""
    def figure(value, digits: int = 2) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    rate = figure(site.rate_ha_per_year)
    if site.rate_se_ha_per_year is not None:
        rate += f" ± {figure(site.rate_se_ha_per_year)}"
    feedback.pushInfo(tr("\nTrajectory: first detected {first}, peak {peak} ({peak_ha} ha), expansion {rate} ha/yr "
                         "over {years} year(s), flicker {flicker} of the area ever mined").format(
        first=site.first_year or "n/a", peak=site.peak_year or "n/a", peak_ha=figure(site.peak_ha), rate=rate,
        years=len(site.years), flicker=figure(site.flicker_share, 3)))


def _per_year_groups() -> tuple[str, str]:
    """The groups of mapfootprints' per-year layers: change layers go under them, so that the
    year's footprint draws over the summaries (first year mined, years active)."""
    return tr(FOOTPRINT_GROUP), tr(PROBABILITY_GROUP)
