"""euromine:changelayers — first/last year mined, years active, flicker, change rasters and areas,
the per-pixel TRAJECTORY and the site's trajectory figures, from annual footprints."""
from __future__ import annotations

from ..executor import Executor
from ..maps.change_layers import change_layers
from ..maps.trajectory import SiteTrajectory
from ..pairs import parse_pairs
from ..progress import Reporter
from ..results import SUMMARY_RASTERS, change_layers_results
from ..scoring.small_multiples import write_small_multiples
from . import params
from .mapfootprints import dated
from .spec import QGIS, AlgorithmSpec, Kind, Outcome, Output, Param, Values

SMALL_MULTIPLES = "footprints_by_year.png"  # in OUTPUT_FOLDER

FOOTPRINTS = Param(
    "FOOTPRINTS", Kind.RASTERS, "Annual footprints (one per year)",
    help="one mask raster per year on one shared grid, the year read from the name "
         "(<code>footprint_2019.tif</code>). A raster's declared nodata value is nodata, every other non-zero "
         "value is mining.")
AREA_TABLE = Param(
    "AREA_TABLE", Kind.OUTPUT_FILE, "Area table", extension="CSV files (*.csv)", optional=True,
    help="CSV (year, mined_ha, gain_ha, loss_ha); empty: <code>area_table.csv</code> in OUTPUT_FOLDER.")
VECTOR_OUTPUT = Param(
    "VECTOR_OUTPUT", Kind.FLAG, "Also write polygons (GeoPackage, area_ha per polygon)", default=False,
    surfaces=frozenset({QGIS}),
    help="also write <code>change_polygons.gpkg</code> in OUTPUT_FOLDER (QGIS's gdal:polygonize): a layer "
         "<code>change_A_B</code> per pair (class gain/loss) and <code>footprint_YYYY</code> per given footprint "
         "(class mining, drawn from the same filtered masks the area table measures), each polygon with area_ha "
         "(ellipsoidal for geographic CRS); no-change and nodata pixels make no polygons. The GeoPackage is "
         "written under a unique temporary name and renamed when complete, like the rasters. QGIS only.")
TRAJECTORY = Param(
    "TRAJECTORY", Kind.OUTPUT_RASTER, "Trajectory (class × 10000 + year)", optional=True, temporary=True,
    help="a uint16 raster, one value per pixel = class × 10000 + year from the valid years only (nodata years "
         "skipped): 10000 stable non-mining, 20000 stable mining, 3YYYY sustained gain (one switch, to mining in "
         "year YYYY), 4YYYY sustained loss (one switch, mining ended in YYYY), 50000 flicker (more than one "
         "switch), 65535 nodata; <code>\"TRAJECTORY\" % 10000</code> in the raster calculator gives the year. "
         "Left out: a temporary file in QGIS, <code>trajectory.tif</code> in OUTPUT_FOLDER from the command.")
SITE_NAME = Param(
    "SITE_NAME", Kind.TEXT, "Site name for the polygons' site field (default: the output folder's name)",
    default="", optional=True,
    help=f"the site's name: the title of <code>{SMALL_MULTIPLES}</code> and the <code>site</code> field of "
         "FOOTPRINT_POLYGONS.")
MASKS = Param(
    "MASKS", Kind.FOLDER, "Folder for the masks the layers derive from", optional=True, surfaces=frozenset(),
    help="filled in by QGIS while it draws polygons from the filtered masks the areas measure.")


def trajectory_line(site: SiteTrajectory) -> str:
    """The site's trajectory figures in one log line."""
    def figure(value: float | None, digits: int = 2) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    rate = figure(site.rate_ha_per_year)
    if site.rate_se_ha_per_year is not None:
        rate += f" ± {figure(site.rate_se_ha_per_year)}"
    return (f"Trajectory: first detected {site.first_year or 'n/a'}, peak {site.peak_year or 'n/a'} "
            f"({figure(site.peak_ha)} ha), expansion {rate} ha/yr over {len(site.years)} year(s), "
            f"flicker {figure(site.flicker_share, 3)} of the area ever mined")


def run(values: Values, reporter: Reporter, _executor: Executor) -> Outcome:
    """Derive every change layer and area of the selected years' footprints."""
    footprints = dated(values, FOOTPRINTS.name)
    out_dir = values[params.OUTPUT_FOLDER.name]
    result = change_layers(footprints, parse_pairs(values[params.PAIRS.name], [y for y, _ in footprints]), out_dir,
                           reporter, values[AREA_TABLE.name], temporal_filter=values[params.TEMPORAL_FILTER.name],
                           masks_dir=values.get(MASKS.name), min_area_ha=values[params.MIN_AREA_HA.name],
                           trajectory=values[TRAJECTORY.name])
    lines = ["Year   Mined (ha)   Gain (ha)   Loss (ha)"]
    for year in result.years:
        step = next((a for (_, b), a in result.steps.items() if b == year), None)
        gain_loss = "" if step is None else f"{step.gain_ha:11.2f} {step.loss_ha:11.2f}"
        lines.append(f"{year} {result.area_ha[year]:12.2f} {gain_loss}")
    lines.append(trajectory_line(result.site))
    small_multiples = write_small_multiples({y: p for y, p in footprints if y in result.years},
                                            out_dir / SMALL_MULTIPLES, values[SITE_NAME.name] or None)
    results = {**change_layers_results(result, out_dir), "SMALL_MULTIPLES": str(small_multiples)}
    return Outcome(results, lines, result)


SPEC = AlgorithmSpec(
    id="changelayers",
    title="Change layers from annual footprints",
    group="Change",
    group_id="change",
    summary="first/last year mined, years active, change rasters, areas and the trajectory from annual footprints",
    description=(
        "<p>From annual mining footprints (any set of years) derives, on exactly their grid: <b>FIRST_YEAR</b> and "
        "<b>LAST_YEAR</b> mapped as mining (uint16, 0 = never mined), <b>YEARS_ACTIVE</b> (number of years mapped "
        "as mining) and <b>TRANSITIONS</b> (on/off switches between consecutive valid years: the flicker measure), "
        "a <b>CHANGE</b> raster per requested pair of years (0 no change, 1 new mining, 2 mining ended) and an "
        "area table: mined hectares per year with gain and loss since the previous selected year. Areas are exact "
        "for the CRS, as on the ellipsoid of its datum (per-row ellipsoidal areas for geographic CRS; for "
        "projected CRS the planar pixel area corrected by the projection's areal scale at each pixel, so Web "
        "Mercator and UTM areas are true ground areas).</p>"
        "<p>Trajectory figures (TRAJECTORY_SUMMARY, and in the log), over the years with valid pixels: "
        "first_detected_year (first year with mining), peak_year and peak_ha, rate_ha_per_year (least-squares "
        "slope of the mined area on year) with rate_se_ha_per_year (its standard error, "
        "sqrt(Σr²/(n−2)/Σ(x−x̄)²); undefined under 3 years) and flicker_share (area of flicker pixels / area ever "
        "mined: how much of the apparent change is noise).</p>"
        "<p>Nodata: a pixel nodata in some years is summarised over its valid years; nodata in every year gives "
        "nodata (65535 in FIRST/LAST_YEAR, 255 elsewhere). A CHANGE pixel is nodata when either year is; gain and "
        "loss areas count pixels valid in both years.</p>"
        "<p>Loaded in QGIS, every layer carries its years for the Temporal Controller: a change raster A–B the "
        "years A+1 to B, the summaries and the trajectory the whole span. First year mined and years active "
        "start checked, the change rasters and other summaries unchecked.</p>"),
    params=(FOOTPRINTS, params.YEARS, params.PAIRS, params.TEMPORAL_FILTER, params.MIN_AREA_HA,
            params.OUTPUT_FOLDER.but(help="where the rasters go (<code>first_year.tif</code>, "
                                          "<code>change_2016_2017.tif</code>, …); left out in QGIS, a new temporary "
                                          "folder."),
            AREA_TABLE, VECTOR_OUTPUT, TRAJECTORY, params.FOOTPRINT_POLYGONS, SITE_NAME, MASKS),
    outputs=(*(Output(name, "raster", label) for name, label in zip(SUMMARY_RASTERS, (
        "First year mined", "Last year mined", "Years active", "Transitions (on/off switches)"), strict=True)),
        Output("SMALL_MULTIPLES", "file", "Footprints by year (PNG)")),
    results="FIRST_YEAR, LAST_YEAR, YEARS_ACTIVE, TRANSITIONS (paths), CHANGE (<code>\"2016-2017\"</code> → path), "
            "AREA_HA (year → ha), GAIN_HA, LOSS_HA, NET_HA (pair → ha), AREA_TABLE, YEARS, OUTPUT_FOLDER, "
            "TRAJECTORY, TRAJECTORY_SUMMARY, VECTOR_OUTPUT and FOOTPRINT_POLYGONS (QGIS: path or None), "
            f"SMALL_MULTIPLES (<code>{SMALL_MULTIPLES}</code> in OUTPUT_FOLDER: the given footprints year by year "
            "in one picture, mining in the footprint style's red, nodata grey).",
    example="processing.run('euromine:changelayers', {'FOOTPRINTS': glob.glob('/tmp/fp/footprint_*.tif'), "
            "'PAIRS': 'all', 'OUTPUT_FOLDER': '/tmp/change'})['NET_HA']['2015-2024']",
    run=run,
)
