"""euromine:detectchange — a change raster (gain / loss) between two dates."""
from __future__ import annotations

from pathlib import Path

from ..engine.change_routes import recommendation_html
from ..errors import InputError
from ..executor import Executor
from ..maps.bitemporal import METHODS, ChangeDetection, change_from_footprints, detect_change
from ..maps.preflight import check_run
from ..progress import Reporter
from ..results import change_results
from ..years import match_years
from . import params
from .dry_run import dry_run_outcome
from .models import ModelChoice, image_input, model_request, tile_settings
from .spec import AlgorithmSpec, Kind, Outcome, Param, Values, files

METHOD = Param(
    "METHOD", Kind.CHOICE, "Method", choices=METHODS, default="post_classification",
    help="<code>post_classification</code> maps both dates with the footprint MODEL (or MODEL_FILE) and compares "
         "the maps; <code>change_model</code> runs the bundled bitemporal CHANGE_MODEL, or your own "
         "CHANGE_MODEL_FILE, and splits its change into gain or loss by whether the footprint model's mining "
         "probability rose or fell; <code>footprints</code> compares two footprint rasters you already have "
         "(BEFORE and AFTER are then footprints).")
BEFORE = Param("BEFORE", Kind.RASTER, "Before (image, or footprint)", optional=True,
               help="the earlier date; or leave BEFORE and AFTER empty and give a SERIES.")
AFTER = Param("AFTER", Kind.RASTER, "After (image, or footprint)", optional=True,
              help="the later date, on the grid of BEFORE.")
SERIES = Param("SERIES", Kind.RASTERS, "Or: annual series to pick the two years from", optional=True,
               help="annual images, the years read from the file names, with BEFORE_YEAR and AFTER_YEAR.")
BEFORE_YEAR = Param("BEFORE_YEAR", Kind.INTEGER, "Before year (with SERIES)", optional=True, minimum=1980,
                    maximum=2099)
AFTER_YEAR = Param("AFTER_YEAR", Kind.INTEGER, "After year (with SERIES)", optional=True, minimum=1980,
                   maximum=2099)
CHANGE_MODEL = Param(
    "CHANGE_MODEL", Kind.MODEL, "Bundled change model (METHOD change_model)", choices=("change",), optional=True,
    help="a bundled change model (listed below); CHANGE_MODEL_FILE overrides it.")
CHANGE_MODEL_FILE = Param(
    "CHANGE_MODEL_FILE", Kind.FILE, "Own change model file (ONNX, overrides CHANGE_MODEL)", extension="onnx",
    optional=True,
    help="your own EuroMine ONNX model with task \"change\": two inputs (before, after) or one stacked input.")
CHANGE = Param("CHANGE", Kind.OUTPUT_RASTER, "Change (0 none, 1 gain, 2 loss)", temporary=True,
               help="the change raster to write, a GeoTIFF (<code>.tif</code>).")

CHANGE_CHOICE = ModelChoice(CHANGE_MODEL, CHANGE_MODEL_FILE, "Change model", overrides=False)


def dates(values: Values) -> tuple[Path, Path]:
    """The before and after files: BEFORE and AFTER, or the years of SERIES."""
    before, after = values[BEFORE.name], values[AFTER.name]
    if before and after:
        return before, after
    series = files(values[SERIES.name])
    first_year, last_year = values[BEFORE_YEAR.name], values[AFTER_YEAR.name]
    if not series or first_year is None or last_year is None:
        raise InputError("give BEFORE and AFTER, or a SERIES with BEFORE_YEAR and AFTER_YEAR")
    if first_year >= last_year:
        raise InputError(f"BEFORE_YEAR {first_year} must come before AFTER_YEAR {last_year}")
    (_, first), (_, second) = match_years(series, [first_year, last_year])
    return first, second


def run(values: Values, reporter: Reporter, _executor: Executor) -> Outcome:
    """The change between the two dates by METHOD (or, with DRY_RUN, the check of its models)."""
    method, dry_run = values[METHOD.name], values[params.DRY_RUN.name]
    before, after = dates(values)
    if dry_run and method == "footprints":
        raise InputError("DRY_RUN checks a model run; METHOD footprints runs no model")
    target = None if dry_run else values[CHANGE.name]  # QGIS makes a temporary file for CHANGE on reading
    if target is not None and target.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{target}: CHANGE must be a GeoTIFF (.tif)")
    if target is not None and method == "footprints":
        return _outcome(target, change_from_footprints(before, after, target, reporter), before, after)
    footprint_model = model_request(values).load(reporter)
    change_model = model_request(values, CHANGE_CHOICE).load(reporter) if method == "change_model" else None
    engine = {"settings": tile_settings(values), "image_input": image_input(values),
              "threshold": values[params.THRESHOLD.name]}
    if target is None:
        no_filter = {"temporal_filter": params.TEMPORAL_FILTER.default, "min_area_ha": params.MIN_AREA_HA.default}
        report = check_run([(None, before), (None, after)], footprint_model, change_model=change_model, change=True,
                           **engine, **no_filter)
        outcome = dry_run_outcome({"": report}, footprint_model, reporter)
        return Outcome({**outcome.results, METHOD.name: method}, outcome.lines)
    result = detect_change(before, after, target, footprint_model, change_model, reporter=reporter, **engine)
    return _outcome(target, result, before, after)


def _outcome(target: Path, result: ChangeDetection, before: Path, after: Path) -> Outcome:
    line = (f"Gain {result.gain_ha:.2f} ha, loss {result.loss_ha:.2f} ha, net {result.net_ha:+.2f} ha "
            f"({before.name} -> {after.name}, {result.method})")
    return Outcome(change_results(target, result, before, after), [line], result)


def _routes() -> str:
    return ("<p>Which METHOD the measurements favour (change F1 on held-out generated sites of the default and of the "
            "domain-shift generator settings, models.json <code>change_routes</code>; the best route on the "
            "domain-shift sites per interval length):</p><ul>" + recommendation_html() + "</ul>")


SPEC = AlgorithmSpec(
    id="detectchange",
    title="Detect change between two dates",
    group="Change",
    group_id="change",
    summary="a change raster (gain / loss) between two dates",
    description=(
        "<p>Writes one <b>CHANGE</b> raster (a GeoTIFF) on the input grid: 0 no change, 1 new mining (gain), "
        "2 mining ended (loss), 255 nodata, and returns the gained, lost and net area in hectares (exact for the "
        "CRS), over the pixels valid on both dates: net = gain − loss. Both dates must share one grid. THRESHOLD "
        "applies to the footprint and change probabilities; the model parameters apply to both models, and each "
        "image's scaling is checked (a warning names the SCALE that fits).</p>"),
    params=(METHOD, BEFORE, AFTER, SERIES, BEFORE_YEAR, AFTER_YEAR,
            *(p.but(choices=("footprint",)) if p is params.MODEL else p for p in params.MODEL_PARAMS),
            CHANGE_MODEL, CHANGE_MODEL_FILE, *params.ENGINE_PARAMS, CHANGE,
            params.DRY_RUN.but(help=params.DRY_RUN.help + " Not for METHOD footprints, which runs no model.")),
    results="CHANGE, METHOD, GAIN_HA, LOSS_HA, NET_HA, BEFORE, AFTER.",
    example="processing.run('euromine:detectchange', {'SERIES': [...], 'BEFORE_YEAR': 2016, 'AFTER_YEAR': 2021, "
            "'METHOD': 'post_classification', 'MODEL': 'spectral_baseline', 'CHANGE': '/tmp/change_2016_2021.tif'})",
    run=run,
    measured=_routes,
)
