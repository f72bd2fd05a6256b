"""euromine:mapsites — footprints, change layers and evaluation over many sites in one resumable run."""
from __future__ import annotations

import json
from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..core.batch.site_sources import SiteInput, discover_sites, folder_site, polygon_sites, select_sites
from ..core.batch.sites import SiteOptions, SiteOutcome, SitesResult, map_sites
from ..core.errors import EuroMineError
from ..core.maps.temporal_filter import TEMPORAL_FILTERS
from ..core.years import parse_years
from .common import (
    EuroMineAlgorithm,
    engine_parameters,
    layer_files,
    load_model,
    load_on_completion,
    model_help,
    model_parameters,
    processing_error,
    reporter_for,
    tile_settings,
)


class MapSitesAlgorithm(EuroMineAlgorithm):
    """Runs mapfootprints, changelayers and (where labelled) evaluate over many sites."""

    ALG_ID = "mapsites"
    DISPLAY_NAME = "Map and score many sites"
    GROUP = "Site workflows"
    GROUP_ID = "workflows"

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return (
            "<p>Maps every site of a folder in the EuroMineNet layout, or every outline of a polygon "
            "layer cut from annual mosaics, in one run: per site the annual footprints, the change "
            "layers and, where the site has labels, the evaluation (CA-TIoU, TIoU, CIoU, IoU, F1) with "
            "its HTML report; then one summary table and page with a row per site (mined area in the "
            "first and last year, gain and loss between them, scores) and the scores pooled over the "
            "labelled sites (micro) and averaged per site (macro).</p>"
            "<p><b>Resumable</b>: each site is written into a hidden staging folder and renamed to "
            "<code>OUTPUT_FOLDER/&lt;site&gt;</code> only after a manifest of its files (size, sha256), "
            "inputs and parameters is written. Run it again after a cancellation or crash and every site "
            "whose folder still verifies is skipped; any other is mapped again. Leftovers of the "
            "interrupted run are removed. One run at a time per OUTPUT_FOLDER.</p>"
            "<p><b>SITES_FOLDER</b>: folder of sites <code>&lt;Site&gt;/image/YearYYYY.tif</code> with "
            "optional <code>&lt;Site&gt;/label/YearYYYY.tif</code>. Or <b>SITES_LAYER</b>: polygon layer "
            "of site outlines with a <b>NAME_FIELD</b> (names become folder names), plus <b>MOSAICS</b>: "
            "one 10-band image per year (year in the name), each outline cut from each mosaic on the "
            "mosaic's own pixel grid (pixels outside the outline are nodata). <b>SITES</b>: "
            "<code>all</code>, a split of the EuroMineNet release (<code>train</code>, <code>val</code>, "
            "<code>test</code>), or site names separated by commas. <b>YEARS</b>: e.g. "
            "<code>2015-2024</code>; empty = every year of each site. <b>MODEL</b>/<b>MODEL_FILE</b>, "
            "<b>THRESHOLD</b>, <b>TEMPORAL_FILTER</b> as in Map mining footprints; <b>PAIRS</b>: change "
            "rasters and change evaluation (<code>consecutive</code>, <code>all</code>, "
            "<code>first-last</code>, <code>2016-2019</code>); the first–last pair is always made, for "
            "the summary. <b>LAMBDA</b>: weight of the change term of CA-TIoU. <b>SITE_REPORTS</b>: an "
            "HTML report per labelled site (about a second each). Advanced, as in Map mining footprints: "
            "DEVICE, TILE_OVERLAP, BATCH_SIZE, BANDS/MEAN/STD. <b>OUTPUT_FOLDER</b>: one folder per "
            "site (<code>footprints/</code>, <code>change/</code>, <code>evaluation.csv</code>, "
            "<code>report.html</code>) and <code>summary.csv</code>, <code>summary.html</code>.</p>"
            f"<p>Bundled models:</p><ul>{model_help()}</ul>"
            "<p>Results: SUMMARY_TABLE, SUMMARY_REPORT, OUTPUT_FOLDER, SITE_NAMES, MAPPED and REUSED "
            "(site names), SITE_RESULTS (per site: folder, status, years, area_ha, gain_ha, loss_ha, "
            "footprints, change, area_table, evaluation_table, report and the scores), MICRO and MACRO "
            "(pooled scores, each with its number of sites), MODEL_NAME, PROVIDER, DEVICE_NAME.</p>"
            "<p>Example: <code>processing.run('euromine:mapsites', {'SITES_FOLDER': '/data/EuroMineNet', "
            "'SITES': 'test', 'YEARS': '2015-2024', 'MODEL': 'spectral_baseline', "
            "'OUTPUT_FOLDER': '/tmp/test_sites'})['MICRO']['ca_tiou']</code></p>"
        )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterFile(
            "SITES_FOLDER", "Sites folder (EuroMineNet layout)", behavior=QgsProcessingParameterFile.Folder,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "SITES_LAYER", "Or: site outlines (polygons)", [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            "NAME_FIELD", "Site name field (with SITES_LAYER)", parentLayerParameterName="SITES_LAYER", optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "MOSAICS", "Annual mosaics to cut the outlines from (with SITES_LAYER)", QgsProcessing.TypeRaster,
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            "SITES", "Sites (all, train, val, test, or names separated by commas)", defaultValue="all"))
        self.addParameter(QgsProcessingParameterString("YEARS", "Years (e.g. 2015-2024 or 2016,2019)", optional=True))
        for p in model_parameters():
            self.addParameter(p)
        for p in engine_parameters():
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterEnum(
            "TEMPORAL_FILTER", "Temporal filter", options=list(TEMPORAL_FILTERS), defaultValue="none",
            usesStaticStrings=True))
        self.addParameter(QgsProcessingParameterString(
            "PAIRS", "Change pairs (consecutive, all, first-last or 2016-2019, 2015-2024)", defaultValue="consecutive"))
        self.addParameter(QgsProcessingParameterNumber(
            "LAMBDA", "λ: weight of the change term in CA-TIoU", QgsProcessingParameterNumber.Double,
            defaultValue=0.5, minValue=0.0, maxValue=1.0))
        reports = QgsProcessingParameterBoolean("SITE_REPORTS", "HTML report per labelled site", defaultValue=True)
        reports.setFlags(reports.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(reports)
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputFile("SUMMARY_TABLE", "Summary table (CSV)"))
        self.addOutput(QgsProcessingOutputHtml("SUMMARY_REPORT", "Summary report"))

    def _sites(self, parameters, context, feedback, years) -> list[SiteInput]:
        folder = self.parameterAsFile(parameters, "SITES_FOLDER", context)
        outlines = self.parameterAsSource(parameters, "SITES_LAYER", context)
        selection = self.parameterAsString(parameters, "SITES", context)
        if bool(folder) == (outlines is not None):
            raise QgsProcessingException("give either SITES_FOLDER (EuroMineNet layout) or SITES_LAYER with "
                                         "NAME_FIELD and MOSAICS")
        if folder:
            found = discover_sites(Path(folder))
            names, missing = select_sites(list(found), selection)
            if missing:
                feedback.pushInfo(f"{len(missing)} site(s) of split '{selection}' are not in {folder}: "
                                        + ", ".join(missing))
            return [folder_site(found[name], years) for name in names]
        field = self.parameterAsString(parameters, "NAME_FIELD", context)
        if not field or outlines.fields().indexOf(field) < 0:
            raise QgsProcessingException(f"NAME_FIELD: choose the field of SITES_LAYER that names the sites "
                                         f"(fields: {', '.join(outlines.fields().names())})")
        if not parameters.get("MOSAICS"):
            raise QgsProcessingException("MOSAICS: give one mosaic per year to cut the SITES_LAYER outlines from")
        crs = outlines.sourceCrs()
        shapes = [(f[field], None if f.geometry().isNull() else json.loads(f.geometry().asJson()))
                  for f in outlines.getFeatures()]
        sites = polygon_sites(shapes, crs.authid() or crs.toWkt(), layer_files(parameters, "MOSAICS", context), years)
        names, _ = select_sites([s.name for s in sites], selection)
        by_name = {s.name: s for s in sites}
        return [by_name[name] for name in names]

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        out_dir = Path(self.parameterAsString(parameters, "OUTPUT_FOLDER", context))
        try:
            years = parse_years(self.parameterAsString(parameters, "YEARS", context))
            sites = self._sites(parameters, context, feedback, years)
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        feedback.pushInfo(f"{len(sites)} site(s): {', '.join(s.name for s in sites)}")
        model = load_model(self, parameters, context, feedback)
        options = SiteOptions(
            threshold=self.parameterAsDouble(parameters, "THRESHOLD", context),
            settings=tile_settings(self, parameters, context),
            temporal_filter=self.parameterAsEnumString(parameters, "TEMPORAL_FILTER", context),
            pairs=self.parameterAsString(parameters, "PAIRS", context),
            lam=self.parameterAsDouble(parameters, "LAMBDA", context),
            site_reports=self.parameterAsBoolean(parameters, "SITE_REPORTS", context),
        )
        try:
            result = map_sites(sites, model, out_dir, options, reporter_for(feedback))
        except EuroMineError as exc:
            raise processing_error(exc) from exc
        _log_table(result, feedback)
        load_on_completion(context, result.table, "EuroMine sites summary", None, vector=True)
        return {
            "OUTPUT_FOLDER": str(out_dir),
            "SUMMARY_TABLE": str(result.table),
            "SUMMARY_REPORT": str(result.report),
            "SITE_NAMES": [o.name for o in result.sites],
            "MAPPED": [o.name for o in result.sites if o.status == "mapped"],
            "REUSED": [o.name for o in result.sites if o.status == "reused"],
            "SITE_RESULTS": {o.name: _site_results(o) for o in result.sites},
            "MICRO": result.pooled["micro"],
            "MACRO": result.pooled["macro"],
            "MODEL_NAME": model.info.name,
            "PROVIDER": model.provider,
            "DEVICE_NAME": model.device_name,
        }


def _site_results(outcome: SiteOutcome) -> dict:
    """One site's entry of SITE_RESULTS, with absolute paths."""
    record = outcome.record
    evaluation = record.get("evaluation") or {}
    summary = evaluation.get("summary") or {}
    return {
        "folder": str(outcome.folder), "status": outcome.status, "years": record["years"],
        "area_ha": record["area_ha"], "gain_ha": record["gain_ha"], "loss_ha": record["loss_ha"],
        "footprints": [str(outcome.folder / p) for p in record["footprints"].values()],
        "change": {pair: str(outcome.folder / p) for pair, p in record["change"].items()},
        "area_table": str(outcome.folder / record["area_table"]),
        "evaluation_table": str(outcome.path(evaluation.get("table"))) if evaluation else None,
        "report": str(outcome.path(evaluation.get("report"))) if evaluation.get("report") else None,
        "ca_tiou": summary.get("ca_tiou"), "tiou": summary.get("tiou"), "ciou": summary.get("ciou"),
        "iou": summary.get("pooled", {}).get("iou"), "f1": summary.get("pooled", {}).get("f1"),
    }


def _log_table(result: SitesResult, feedback) -> None:
    feedback.pushInfo("\nSite                 status   first (ha)   last (ha)   gain (ha)   loss (ha)   CA-TIoU")
    for o in result.sites:
        r = _site_results(o)
        years = r["years"]
        figures = [r["area_ha"][str(years[0])], r["area_ha"][str(years[-1])], r["gain_ha"], r["loss_ha"]]
        cells = " ".join("        n/a" if v is None else f"{v:11.2f}" for v in figures)
        score = _score(r["ca_tiou"]) if o.record.get("evaluation") else "unlabelled"
        feedback.pushInfo(f"{o.name:20} {o.status:8} {cells}   {score}")
    micro = result.pooled["micro"]
    feedback.pushInfo(f"CA-TIoU over {micro['sites']} labelled site(s): micro {_score(micro['ca_tiou'])}, "
                      f"macro {_score(result.pooled['macro'].get('ca_tiou', {}).get('value'))}")
    feedback.pushInfo(f"Summary: {result.table}\nReport: {result.report}")


def _score(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"
