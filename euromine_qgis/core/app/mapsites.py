"""euromine:mapsites — footprints, change layers and evaluation over many sites in one resumable run."""
from __future__ import annotations

from ..batch.site_check import check_sites
from ..batch.site_sources import SiteSource, sites_from_folder, sites_from_outlines
from ..batch.sites import SiteOptions, SitesResult, map_sites
from ..errors import InputError
from ..executor import Executor
from ..progress import Reporter
from ..results import site_results, sites_results
from ..years import parse_years
from . import params
from .dry_run import dry_run_outcome
from .evaluate import score_text
from .models import image_input, model_request, tile_settings
from .spec import QGIS, AlgorithmSpec, Kind, Outcome, Output, Param, Values, files

QGIS_ONLY = frozenset({QGIS})
SITES_FOLDER = Param(
    "SITES_FOLDER", Kind.FOLDER, "Sites folder (EuroMineNet layout)", optional=True,
    help="folder of sites <code>&lt;Site&gt;/image/YearYYYY.tif</code> with optional "
         "<code>&lt;Site&gt;/label/YearYYYY.tif</code>.")
SITES_LAYER = Param(
    "SITES_LAYER", Kind.POLYGONS, "Or: site outlines (polygons)", optional=True, surfaces=QGIS_ONLY,
    help="a polygon layer of site outlines with a NAME_FIELD (names become folder names), plus MOSAICS. QGIS only.")
NAME_FIELD = Param("NAME_FIELD", Kind.FIELD, "Site name field (with SITES_LAYER)", optional=True,
                   parent="SITES_LAYER", surfaces=QGIS_ONLY)
MOSAICS = Param(
    "MOSAICS", Kind.RASTERS, "Annual mosaics to cut the outlines from (with SITES_LAYER)", optional=True,
    surfaces=QGIS_ONLY,
    help="one 10-band image per year (year in the name), each outline cut from each mosaic on the mosaic's own "
         "pixel grid (pixels outside the outline are nodata).")
SITES = Param(
    "SITES", Kind.TEXT, "Sites (all, train, val, test, or names separated by commas)", default="all",
    help="<code>all</code>, a split of the EuroMineNet release (<code>train</code>, <code>val</code>, "
         "<code>test</code>), or site names separated by commas.")
SITE_REPORTS = Param("SITE_REPORTS", Kind.FLAG, "HTML report per labelled site", default=True, advanced=True,
                     help="an HTML report per labelled site (about a second each).")
SUMMARY_HEADER = "Site                 status   first (ha)   last (ha)   gain (ha)   loss (ha)   CA-TIoU"


def sites(values: Values, reporter: Reporter) -> list[SiteSource]:
    """The sites of SITES_FOLDER, or of SITES_LAYER's outlines over MOSAICS, that SITES picks."""
    folder, outlines = values[SITES_FOLDER.name], values.get(SITES_LAYER.name)
    years = parse_years(values[params.YEARS.name])
    if folder and outlines is None:
        return sites_from_folder(folder, values[SITES.name], years, reporter)
    if folder or outlines is None:
        raise InputError("give either SITES_FOLDER (EuroMineNet layout) or SITES_LAYER with NAME_FIELD and MOSAICS")
    mosaics = files(values.get(MOSAICS.name))
    if not mosaics:
        raise InputError("MOSAICS: give one mosaic per year to cut the SITES_LAYER outlines from")
    return sites_from_outlines(outlines.shapes, outlines.crs, mosaics, values[SITES.name], years)


def summary_lines(result: SitesResult) -> list[str]:
    """A row per site (first and last year's area, gain, loss, CA-TIoU) and the pooled scores."""
    lines = [SUMMARY_HEADER]
    for o in result.sites:
        r = site_results(o)
        years = r["years"]
        figures = [r["area_ha"][str(years[0])], r["area_ha"][str(years[-1])], r["gain_ha"], r["loss_ha"]]
        cells = " ".join("        n/a" if v is None else f"{v:11.2f}" for v in figures)
        score = score_text(r["ca_tiou"]) if o.record.get("evaluation") else "unlabelled"
        lines.append(f"{o.name:20} {o.status:8} {cells}   {score}")
    micro, macro = result.pooled["micro"], result.pooled["macro"]
    return [*lines, f"CA-TIoU over {micro['sites']} labelled site(s): micro {score_text(micro['ca_tiou'])}, "
                    f"macro {score_text(macro.get('ca_tiou', {}).get('value'))}",
            f"Summary: {result.table}", f"Report: {result.report}"]


def run(values: Values, reporter: Reporter, executor: Executor) -> Outcome:
    """Map, derive and score every selected site (or, with DRY_RUN, check each)."""
    chosen = sites(values, reporter)
    reporter.info(f"{len(chosen)} site(s): {', '.join(s.name for s in chosen)}")
    model = model_request(values).load(reporter)
    options = SiteOptions(
        threshold=values[params.THRESHOLD.name], settings=tile_settings(values),
        temporal_filter=values[params.TEMPORAL_FILTER.name], pairs=values[params.PAIRS.name],
        lam=values[params.LAMBDA.name], site_reports=values[SITE_REPORTS.name],
        min_area_ha=values[params.MIN_AREA_HA.name], image_input=image_input(values),
    )
    if values[params.DRY_RUN.name]:  # before OUTPUT_FOLDER is read: QGIS makes a temporary one on reading
        return dry_run_outcome(check_sites(chosen, model, options), model, reporter)
    out_dir = values[params.OUTPUT_FOLDER.name]
    result = map_sites(chosen, model, out_dir, options, reporter, executor)
    return Outcome(sites_results(out_dir, result, model), summary_lines(result), result)


SPEC = AlgorithmSpec(
    id="mapsites",
    title="Map and score many sites",
    group="Site workflows",
    group_id="workflows",
    summary="footprints, change layers and evaluation over many sites in one resumable run",
    description=(
        "<p>Maps every site of a folder in the EuroMineNet layout, or every outline of a polygon layer cut from "
        "annual mosaics, in one run: per site the annual footprints, the change layers and, where the site has "
        "labels, the evaluation (CA-TIoU, TIoU, CIoU, IoU, F1) with its HTML report; then one summary table and "
        "page with a row per site (mined area in the first and last year, gain and loss between them, scores) and "
        "the scores pooled over the labelled sites (micro) and averaged per site (macro). Each site's "
        "<code>change/trajectory.tif</code> is its TRAJECTORY raster (see Change layers); the summary table and "
        "page give each site's first detected year, peak year and area, expansion rate ± standard error (ha/yr) "
        "and flicker share, and the page plots its mined area per year. The first–last pair is always made, for "
        "the summary.</p>"
        "<p><b>Resumable</b>: each site is written into a hidden staging folder and renamed to "
        "<code>OUTPUT_FOLDER/&lt;site&gt;</code> only after a manifest of its files (size, sha256), inputs and "
        "every setting that changes an output (model file sha256, the model metadata with BANDS/MEAN/STD applied, "
        "THRESHOLD, tile size, TILE_OVERLAP, TEMPORAL_FILTER, MIN_AREA_HA, INPUT_BANDS, SCALE, PAIRS, LAMBDA, "
        "SITE_REPORTS) is written. Run it again after a cancellation or crash and every site whose folder still "
        "verifies is skipped; any other is mapped again, and the log names what changed. Leftovers of the "
        "interrupted run are removed. One run at a time per OUTPUT_FOLDER. A dry run checks every site of "
        "SITES_FOLDER (one report per site); sites of SITES_LAYER are cut from the MOSAICS only in a real run, so "
        "a dry run refuses them.</p>"),
    params=(SITES_FOLDER, SITES_LAYER, NAME_FIELD, MOSAICS, SITES, params.YEARS, *params.MODEL_PARAMS,
            *params.ENGINE_PARAMS, params.TEMPORAL_FILTER, params.MIN_AREA_HA, params.PAIRS, params.LAMBDA,
            SITE_REPORTS,
            params.OUTPUT_FOLDER.but(help="one folder per site (<code>footprints/</code>, <code>change/</code>, "
                                          "<code>evaluation.csv</code>, <code>report.html</code>) and "
                                          "<code>summary.csv</code>, <code>summary.html</code>; left out in QGIS, a "
                                          "new temporary folder (nothing to resume)."),
            params.FOOTPRINT_POLYGONS.but(label="Footprint polygons of every site and year (site, year, area_ha)"),
            params.DRY_RUN, params.SCHEDULER),
    outputs=(Output("SUMMARY_TABLE", "file", "Summary table (CSV)"),
             Output("SUMMARY_REPORT", "html", "Summary report")),
    results="SUMMARY_TABLE, SUMMARY_REPORT, OUTPUT_FOLDER, SITE_NAMES, MAPPED and REUSED (site names), SITE_RESULTS "
            "(per site: folder, status, years, area_ha, gain_ha, loss_ha, footprints, change, area_table, "
            "evaluation_table, report, the scores, trajectory (the TRAJECTORY raster) and the trajectory figures "
            "first_detected_year, peak_year, peak_ha, rate_ha_per_year, rate_se_ha_per_year, flicker_share), "
            "FOOTPRINT_POLYGONS (QGIS), MICRO and MACRO (pooled scores, each with its number of sites), MODEL_NAME, "
            "PROVIDER, DEVICE_NAME, PRECISION.",
    example="processing.run('euromine:mapsites', {'SITES_FOLDER': '/data/EuroMineNet', 'SITES': 'test', "
            "'YEARS': '2015-2024', 'MODEL': 'spectral_baseline', "
            "'OUTPUT_FOLDER': '/tmp/test_sites'})['MICRO']['ca_tiou']",
    run=run,
    needs_models=True,
)
