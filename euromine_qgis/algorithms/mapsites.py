"""euromine:mapsites — footprints, change layers and evaluation over many sites in one resumable run."""
from __future__ import annotations

import json
from pathlib import Path

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from ..core.batch.site_check import check_sites
from ..core.batch.distributed import Cluster, ModelSpec, parse_scheduler
from ..core.batch.site_sources import SiteSource, sites_from_folder, sites_from_outlines
from ..core.batch.sites import SiteOptions, SitesResult, map_sites
from ..core.executor import LOCAL, Executor
from ..core.progress import Reporter
from ..core.results import site_results, sites_results
from ..qgis_compat import BEHAVIOR_FOLDER, SOURCE_RASTER, SOURCE_VECTOR_POLYGON
from .base import EuroMineAlgorithm, reporter_for, score_text
from .footprint_polygons import write_footprint_polygons
from .inputs import layer_files
from .layers import load_on_completion
from .models import load_model, model_parameters, read_image_input
from .parameters import (
    DEVICE,
    LAMBDA,
    MIN_AREA_HA,
    PAIRS,
    SCHEDULER,
    TEMPORAL_FILTER,
    THRESHOLD,
    advanced,
    dry_run_parameter,
    dry_run_results,
    engine_parameters,
    lambda_parameter,
    min_area_parameter,
    output_folder_parameter,
    pairs_parameter,
    read_dry_run,
    read_output_folder,
    read_tile_settings,
    read_years,
    scheduler_parameter,
    temporal_filter_parameter,
    years_parameter,
)
from .translation import tr


class MapSitesAlgorithm(EuroMineAlgorithm):
    """Runs mapfootprints, changelayers and (where labelled) evaluate over many sites."""

    ALG_ID = "mapsites"
    DISPLAY_NAME = "Map and score many sites"
    GROUP = "Site workflows"
    GROUP_ID = "workflows"
    NEEDS_MODELS = True

    SITES_FOLDER = "SITES_FOLDER"
    SITES_LAYER = "SITES_LAYER"
    NAME_FIELD = "NAME_FIELD"
    MOSAICS = "MOSAICS"
    SITES = "SITES"
    SITE_REPORTS = "SITE_REPORTS"
    SUMMARY_TABLE = "SUMMARY_TABLE"
    SUMMARY_REPORT = "SUMMARY_REPORT"
    FOOTPRINT_POLYGONS = "FOOTPRINT_POLYGONS"

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterFile(
            self.SITES_FOLDER, self.tr("Sites folder (EuroMineNet layout)"),
            behavior=BEHAVIOR_FOLDER, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.SITES_LAYER, self.tr("Or: site outlines (polygons)"), [SOURCE_VECTOR_POLYGON],
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.NAME_FIELD, self.tr("Site name field (with SITES_LAYER)"), parentLayerParameterName=self.SITES_LAYER,
            optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.MOSAICS, self.tr("Annual mosaics to cut the outlines from (with SITES_LAYER)"),
            SOURCE_RASTER, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.SITES, self.tr("Sites (all, train, val, test, or names separated by commas)"), defaultValue="all"))
        self.addParameter(years_parameter())
        for p in (*model_parameters(), *engine_parameters()):
            self.addParameter(p)
        self.addParameter(temporal_filter_parameter())
        self.addParameter(min_area_parameter())
        self.addParameter(pairs_parameter(default="consecutive"))
        self.addParameter(lambda_parameter())
        self.addParameter(advanced(QgsProcessingParameterBoolean(
            self.SITE_REPORTS, self.tr("HTML report per labelled site"), defaultValue=True)))
        self.addParameter(output_folder_parameter())
        self.addParameter(QgsProcessingParameterFileDestination(
            self.FOOTPRINT_POLYGONS, self.tr("Footprint polygons of every site and year (site, year, area_ha)"),
            self.tr("GeoPackage (*.gpkg)"), optional=True, createByDefault=False))
        self.addParameter(dry_run_parameter())
        self.addParameter(scheduler_parameter())
        self.addOutput(QgsProcessingOutputFile(self.SUMMARY_TABLE, self.tr("Summary table (CSV)")))
        self.addOutput(QgsProcessingOutputHtml(self.SUMMARY_REPORT, self.tr("Summary report")))

    def _sites(self, parameters, context, reporter: Reporter) -> list[SiteSource]:
        """The sites of SITES_FOLDER, or of SITES_LAYER's outlines over MOSAICS, that SITES picks."""
        folder = self.parameterAsFile(parameters, self.SITES_FOLDER, context)
        outlines = self.parameterAsSource(parameters, self.SITES_LAYER, context)
        selection = self.parameterAsString(parameters, self.SITES, context)
        years = read_years(self, parameters, context)
        if bool(folder) == (outlines is not None):
            raise QgsProcessingException(self.tr("give either SITES_FOLDER (EuroMineNet layout) or SITES_LAYER with "
                                                 "NAME_FIELD and MOSAICS"))
        if folder:
            return sites_from_folder(Path(folder), selection, years, reporter)
        field = self.parameterAsString(parameters, self.NAME_FIELD, context)
        if not field or outlines.fields().indexOf(field) < 0:
            raise QgsProcessingException(self.tr("NAME_FIELD: choose the field of SITES_LAYER that names the sites "
                                                 "(fields: {fields})").format(fields=", ".join(outlines.fields().names())))
        if not parameters.get(self.MOSAICS):
            raise QgsProcessingException(self.tr("MOSAICS: give one mosaic per year to cut the SITES_LAYER outlines from"))
        crs = outlines.sourceCrs()
        shapes = [(f[field], None if f.geometry().isNull() else json.loads(f.geometry().asJson()))
                  for f in outlines.getFeatures()]
        return sites_from_outlines(shapes, crs.authid() or crs.toWkt(), layer_files(parameters, self.MOSAICS, context),
                                   selection, years)

    def _executor(self, parameters, context, model) -> Executor:
        """Where the sites are mapped: the Dask cluster SCHEDULER names, or here."""
        scheduler = parse_scheduler(self.parameterAsString(parameters, SCHEDULER, context))
        if scheduler is None:
            return LOCAL
        device = self.parameterAsEnumString(parameters, DEVICE, context)
        return Cluster(scheduler, ModelSpec.of_model(model, device))

    def process(self, parameters, context, feedback) -> dict:
        reporter = reporter_for(feedback)
        sites = self._sites(parameters, context, reporter)
        feedback.pushInfo(self.tr("{count} site(s): {names}").format(
            count=len(sites), names=", ".join(s.name for s in sites)))
        model = load_model(self, parameters, context, feedback)
        options = SiteOptions(
            threshold=self.parameterAsDouble(parameters, THRESHOLD, context),
            settings=read_tile_settings(self, parameters, context),
            temporal_filter=self.parameterAsEnumString(parameters, TEMPORAL_FILTER, context),
            pairs=self.parameterAsString(parameters, PAIRS, context),
            lam=self.parameterAsDouble(parameters, LAMBDA, context),
            site_reports=self.parameterAsBoolean(parameters, self.SITE_REPORTS, context),
            min_area_ha=self.parameterAsDouble(parameters, MIN_AREA_HA, context),
            image_input=read_image_input(self, parameters, context),
        )
        if read_dry_run(self, parameters, context):  # before OUTPUT_FOLDER is read: QGIS makes a temporary one
            return dry_run_results(check_sites(sites, model, options), model, feedback)
        out_dir = read_output_folder(self, parameters, context)
        result = map_sites(sites, model, out_dir, options, reporter, self._executor(parameters, context, model))
        _log_table(result, feedback)
        polygons = self.parameterAsFileOutput(parameters, self.FOOTPRINT_POLYGONS, context)
        if polygons:
            write_footprint_polygons(Path(polygons), [(o.name, int(y), o.folder / p) for o in result.sites
                                                      for y, p in o.record["footprints"].items()], context, feedback)
            load_on_completion(context, Path(polygons), self.tr("EuroMine footprint polygons"), None, vector=True,
                               year_field="year")
        load_on_completion(context, result.table, self.tr("EuroMine sites summary"), None, vector=True)
        return {**sites_results(out_dir, result, model), self.FOOTPRINT_POLYGONS: polygons or None}


def _log_table(result: SitesResult, feedback) -> None:
    feedback.pushInfo(tr("\nSite                 status   first (ha)   last (ha)   gain (ha)   loss (ha)   CA-TIoU"))
    for o in result.sites:
        r = site_results(o)
        years = r["years"]
        figures = [r["area_ha"][str(years[0])], r["area_ha"][str(years[-1])], r["gain_ha"], r["loss_ha"]]
        cells = " ".join("        n/a" if v is None else f"{v:11.2f}" for v in figures)
        score = score_text(r["ca_tiou"]) if o.record.get("evaluation") else tr("unlabelled")
        feedback.pushInfo(f"{o.name:20} {o.status:8} {cells}   {score}")
    micro = result.pooled["micro"]
    feedback.pushInfo(tr("CA-TIoU over {sites} labelled site(s): micro {micro}, macro {macro}").format(
        sites=micro["sites"], micro=score_text(micro["ca_tiou"]),
        macro=score_text(result.pooled["macro"].get("ca_tiou", {}).get("value"))))
    feedback.pushInfo(tr("Summary: {table}\nReport: {report}").format(table=result.table, report=result.report))
