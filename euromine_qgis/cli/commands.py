"""The subcommands: each reads its flags, makes the core call its Processing algorithm makes, and
returns the algorithm's result dict (the keys it has where the command has the output) and the
lines the algorithm's log shows after the run.

The algorithms' polygon outputs (changelayers VECTOR_OUTPUT and FOOTPRINT_POLYGONS, mapsites
FOOTPRINT_POLYGONS) are drawn with QGIS's gdal:polygonize and written with QGIS's vector writer;
the command has no vector writer and leaves them out, as it leaves out mapsites' SITES_LAYER
(site outlines from a vector layer).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.batch.site_check import check_sites
from ..core.batch.site_sources import sites_from_folder
from ..core.batch.sites import SiteOptions, map_sites
from ..core.engine.bundled import bundled_models
from ..core.errors import InputError
from ..core.maps.bitemporal import METHODS, change_from_footprints, detect_change
from ..core.maps.change_layers import change_layers
from ..core.maps.footprints import PROBABILITY_TYPES, map_footprints
from ..core.maps.preflight import RunCheck, check_run
from ..core.maps.trajectory import SiteTrajectory
from ..core.pairs import parse_pairs
from ..core.progress import Reporter
from ..core.results import (
    change_layers_results,
    change_results,
    dry_run_lines,
    dry_run_results,
    evaluation_results,
    footprint_results,
    site_results,
    sites_results,
)
from ..core.scoring.evaluate_files import evaluate_files
from ..core.scoring.small_multiples import write_small_multiples
from ..core.years import match_years
from . import options
from .cards import model_cards

Outcome = tuple[dict, list[str]]  # the result dict, and the lines that summarise it
SMALL_MULTIPLES = "footprints_by_year.png"  # changelayers' SMALL_MULTIPLES in OUTPUT_FOLDER, as the algorithm names it


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one line of help, its flags and its body."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Reporter], Outcome]


def _score(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def _figure(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _dry_run(reports: dict[str, RunCheck], model, reporter: Reporter) -> Outcome:
    """The outcome of --dry-run (the algorithms' DRY_RUN): the pre-run checks' result dict and
    report lines, their scaling warnings on the log; nothing was written."""
    for report in reports.values():
        for warning in report.warnings:
            reporter.warn(warning)
    return dry_run_results(reports, model), list(dry_run_lines(reports))


# mapfootprints ---------------------------------------------------------------------------------

def _mapfootprints_arguments(parser: argparse.ArgumentParser) -> None:
    options.files(parser, "--images", "annual images, the year in each file name")
    options.years(parser)
    options.model_options(parser)
    options.engine_options(parser)
    parser.add_argument("--probabilities", choices=("none", *PROBABILITY_TYPES), default="none",
                        help="also write mining probabilities (default none)")
    options.temporal_filter(parser)
    options.min_area(parser)
    options.output_folder(parser)
    options.dry_run(parser)
    options.scheduler(parser, "years")


def _mapfootprints(args: argparse.Namespace, reporter: Reporter) -> Outcome:
    dated = match_years(args.images, options.read_years(args))
    image_input = options.read_image_input(args)
    request = options.model_request(args)
    model = request.load(reporter)
    run = {  # the arguments map_footprints and its pre-run check share
        "threshold": args.threshold, "settings": options.read_tile_settings(args),
        "probabilities": None if args.probabilities == "none" else args.probabilities,
        "temporal_filter": args.temporal_filter, "min_area_ha": args.min_area_ha, "image_input": image_input,
    }
    if args.dry_run:
        return _dry_run({"": check_run(dated, model, **run)}, model, reporter)
    results = map_footprints(dated, model, args.output_folder, reporter=reporter,
                             executor=options.executor(args, request, model), **run)
    lines = ["Year   Mining area (ha)   Footprint", *(f"{r.year}   {r.mining_ha:16.2f}   {r.footprint}" for r in results)]
    return footprint_results(args.output_folder, results, model), lines


# changelayers ----------------------------------------------------------------------------------

def _changelayers_arguments(parser: argparse.ArgumentParser) -> None:
    options.files(parser, "--footprints", "annual footprints (one per year)")
    options.years(parser)
    options.pairs(parser, default="consecutive")
    options.temporal_filter(parser)
    options.min_area(parser)
    options.output_folder(parser)
    parser.add_argument("--area-table", type=options.absolute_path, default=None,
                        help="area table CSV (default OUTPUT_FOLDER/area_table.csv)")
    parser.add_argument("--trajectory", type=options.absolute_path, default=None,
                        help="trajectory raster, class x 10000 + year (default OUTPUT_FOLDER/trajectory.tif)")
    parser.add_argument("--site-name", default="", help=f"site name: the title of {SMALL_MULTIPLES}")


def _trajectory_line(site: SiteTrajectory) -> str:
    rate = _figure(site.rate_ha_per_year)
    if site.rate_se_ha_per_year is not None:
        rate += f" ± {_figure(site.rate_se_ha_per_year)}"
    return (f"Trajectory: first detected {site.first_year or 'n/a'}, peak {site.peak_year or 'n/a'} "
            f"({_figure(site.peak_ha)} ha), expansion {rate} ha/yr over {len(site.years)} year(s), "
            f"flicker {_figure(site.flicker_share, 3)} of the area ever mined")


def _changelayers(args: argparse.Namespace, reporter: Reporter) -> Outcome:
    dated = match_years(args.footprints, options.read_years(args))
    result = change_layers(dated, parse_pairs(args.pairs, [y for y, _ in dated]), args.output_folder, reporter,
                           args.area_table, args.temporal_filter, min_area_ha=args.min_area_ha,
                           trajectory=args.trajectory)
    lines = ["Year   Mined (ha)   Gain (ha)   Loss (ha)"]
    for year in result.years:
        step = next((a for (_, b), a in result.steps.items() if b == year), None)
        gain_loss = "" if step is None else f"{step.gain_ha:11.2f} {step.loss_ha:11.2f}"
        lines.append(f"{year} {result.area_ha[year]:12.2f} {gain_loss}")
    lines.append(_trajectory_line(result.site))
    small_multiples = write_small_multiples({y: p for y, p in dated if y in result.years},
                                            args.output_folder / SMALL_MULTIPLES, args.site_name or None)
    return {**change_layers_results(result, args.output_folder), "SMALL_MULTIPLES": str(small_multiples)}, lines


# detectchange ----------------------------------------------------------------------------------

def _detectchange_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=METHODS, default="post_classification", help="method (default post_classification)")
    parser.add_argument("--before", type=options.absolute_path, default=None, help="before (image, or footprint)")
    parser.add_argument("--after", type=options.absolute_path, default=None, help="after (image, or footprint)")
    options.files(parser, "--series", "or: annual series to pick the two years from", required=False)
    parser.add_argument("--before-year", type=int, default=None, help="before year (with --series)")
    parser.add_argument("--after-year", type=int, default=None, help="after year (with --series)")
    options.model_options(parser, ("footprint",))
    options.model_choice(parser, "--change-model", "--change-model-file", ("change",), None,
                         "change model (--method change_model)")
    options.engine_options(parser)
    parser.add_argument("--change", type=options.absolute_path, required=True, help="change raster to write (GeoTIFF: 0 none, 1 gain, 2 loss)")
    options.dry_run(parser)


def _dates(args: argparse.Namespace) -> tuple[Path, Path]:
    """The before and after files: --before and --after, or the years of --series."""
    if args.before and args.after:
        return args.before, args.after
    if not args.series or None in (args.before_year, args.after_year):
        raise InputError("give --before and --after, or a --series with --before-year and --after-year")
    if args.before_year >= args.after_year:
        raise InputError(f"BEFORE_YEAR {args.before_year} must come before AFTER_YEAR {args.after_year}")
    (_, first), (_, second) = match_years(args.series, [args.before_year, args.after_year])
    return first, second


def _detectchange(args: argparse.Namespace, reporter: Reporter) -> Outcome:
    before, after = _dates(args)
    if args.dry_run:
        return _check_change(args, before, after, reporter)
    if args.change.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{args.change}: CHANGE must be a GeoTIFF (.tif)")
    if args.method == "footprints":
        result = change_from_footprints(before, after, args.change, reporter)
    else:
        image_input = options.read_image_input(args)
        footprint_model = options.model_request(args).load(reporter)
        change_model = options.change_model_request(args).load(reporter) if args.method == "change_model" else None
        result = detect_change(before, after, args.change, footprint_model, change_model, threshold=args.threshold,
                               settings=options.read_tile_settings(args), reporter=reporter, image_input=image_input)
    line = (f"Gain {result.gain_ha:.2f} ha, loss {result.loss_ha:.2f} ha, net {result.net_ha:+.2f} ha "
            f"({before.name} -> {after.name}, {result.method})")
    return change_results(args.change, result, before, after), [line]


def _check_change(args: argparse.Namespace, before: Path, after: Path, reporter: Reporter) -> Outcome:
    """The pre-run check of the model(s) --method runs on the two dates; nothing is written."""
    if args.method == "footprints":
        raise InputError("DRY_RUN checks a model run; METHOD footprints runs no model")
    footprint_model = options.model_request(args).load(reporter)
    change_model = options.change_model_request(args).load(reporter) if args.method == "change_model" else None
    report = check_run([(None, before), (None, after)], footprint_model, settings=options.read_tile_settings(args),
                       image_input=options.read_image_input(args), change_model=change_model,
                       threshold=args.threshold, change=True)
    result, lines = _dry_run({"": report}, footprint_model, reporter)
    return {**result, "METHOD": args.method}, lines


# evaluate --------------------------------------------------------------------------------------

def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    options.files(parser, "--predictions", "predicted footprints (one per year)")
    options.files(parser, "--references", "reference footprints (one per year)")
    options.years(parser)
    options.lambda_(parser)
    options.pairs(parser, default=None)
    parser.add_argument("--table", type=options.absolute_path, required=True, help="metrics table to write (CSV)")
    parser.add_argument("--report", type=options.absolute_path, default=None, help="HTML report to write (default: none)")


def _evaluate(args: argparse.Namespace, reporter: Reporter) -> Outcome:
    summary = evaluate_files(args.predictions, args.references, args.table, args.report,
                             years=options.read_years(args), pairs=args.pairs, lam=args.lam, reporter=reporter)
    lines = [(f"TIoU {_score(summary['tiou'])}   CIoU {_score(summary['ciou'])}   "
              f"CA-TIoU (λ={args.lam:g}) {_score(summary['ca_tiou'])}"), f"Table: {args.table}"]
    if args.report:
        lines.append(f"Report: {args.report}")
    return {"TABLE": str(args.table), "REPORT": str(args.report) if args.report else None,
            **evaluation_results(summary)}, lines


# mapsites --------------------------------------------------------------------------------------

def _mapsites_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sites-folder", type=options.absolute_path, required=True, help="sites folder (EuroMineNet layout)")
    parser.add_argument("--sites", default="all", help="all, train, val, test, or names separated by commas")
    options.years(parser)
    options.model_options(parser)
    options.engine_options(parser)
    options.temporal_filter(parser)
    options.min_area(parser)
    options.pairs(parser, default="consecutive")
    options.lambda_(parser)
    parser.add_argument("--site-reports", action=argparse.BooleanOptionalAction, default=True,
                        help="an HTML report per labelled site (default yes)")
    options.output_folder(parser)
    options.dry_run(parser)
    options.scheduler(parser, "sites")


def _mapsites(args: argparse.Namespace, reporter: Reporter) -> Outcome:
    sites = sites_from_folder(args.sites_folder, args.sites, options.read_years(args), reporter)
    reporter.info(f"{len(sites)} site(s): {', '.join(s.name for s in sites)}")
    site_options = SiteOptions(
        threshold=args.threshold, settings=options.read_tile_settings(args), temporal_filter=args.temporal_filter,
        pairs=args.pairs, lam=args.lam, site_reports=args.site_reports, min_area_ha=args.min_area_ha,
        image_input=options.read_image_input(args),
    )
    request = options.model_request(args)
    model = request.load(reporter)
    if args.dry_run:
        return _dry_run(check_sites(sites, model, site_options), model, reporter)
    result = map_sites(sites, model, args.output_folder, site_options, reporter,
                       options.executor(args, request, model))
    per_site = {o.name: site_results(o) for o in result.sites}
    lines = ["Site                 status   first (ha)   last (ha)   gain (ha)   loss (ha)   CA-TIoU"]
    for o in result.sites:
        r = per_site[o.name]
        figures = [r["area_ha"][str(r["years"][0])], r["area_ha"][str(r["years"][-1])], r["gain_ha"], r["loss_ha"]]
        cells = " ".join("        n/a" if v is None else f"{v:11.2f}" for v in figures)
        lines.append(f"{o.name:20} {o.status:8} {cells}   "
                     + (_score(r["ca_tiou"]) if o.record.get("evaluation") else "unlabelled"))
    micro, macro = result.pooled["micro"], result.pooled["macro"]
    lines += [(f"CA-TIoU over {micro['sites']} labelled site(s): micro {_score(micro['ca_tiou'])}, "
               f"macro {_score(macro.get('ca_tiou', {}).get('value'))}"),
              f"Summary: {result.table}", f"Report: {result.report}"]
    return sites_results(args.output_folder, result, model), lines


# models ----------------------------------------------------------------------------------------

def _metric_text(value: object) -> str:
    """A metrics entry on one line: a number or text as it is, a group as ``name value, ...``."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _models(_args: argparse.Namespace, _reporter: Reporter) -> Outcome:
    cards = model_cards(bundled_models())
    lines = []
    for card in cards:
        lines += [f"{card['name']}: {card['display_name']} ({card['task']})",
                  f"  trained on: {card['trained_on']}"]
        if card["receptive_field"] is not None:
            lines.append(f"  receptive field: {card['receptive_field']} px, alignment {card['alignment']} px")
        lines += [f"  {name}: {_metric_text(value)}" for name, value in card["metrics"].items()]
    return {"MODELS": cards}, lines


# check -----------------------------------------------------------------------------------------

def _check_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-subcommand per command with a pre-run check, with that command's flags."""
    checked = parser.add_subparsers(title="the run to check", metavar="COMMAND", required=True)
    for command in CHECKED:
        sub = checked.add_parser(command.name, help=command.help, description=f"check: {command.help}")
        command.add_arguments(sub)
        # --json may come before or after the checked command's name
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print the result dict as JSON on stdout")
        sub.set_defaults(checked=command, dry_run=True)


def _check(args: argparse.Namespace, reporter: Reporter) -> Outcome:
    return args.checked.run(args, reporter)


CHECKED = (  # the commands with a pre-run check (--dry-run, the algorithms' DRY_RUN)
    Command("mapfootprints", "annual mining footprint rasters from annual images",
            _mapfootprints_arguments, _mapfootprints),
    Command("detectchange", "a change raster (gain / loss) between two dates", _detectchange_arguments, _detectchange),
    Command("mapsites", "footprints, change layers and evaluation over many sites in one resumable run",
            _mapsites_arguments, _mapsites),
)
MAPFOOTPRINTS, DETECTCHANGE, MAPSITES = CHECKED

COMMANDS = (
    MAPFOOTPRINTS,
    Command("changelayers", "first/last year mined, years active, change rasters, areas and the trajectory "
            "from annual footprints", _changelayers_arguments, _changelayers),
    DETECTCHANGE,
    Command("evaluate", "CA-TIoU and the benchmark metrics of annual predictions against references",
            _evaluate_arguments, _evaluate),
    MAPSITES,
    Command("models", "the bundled models with their cards", lambda _parser: None, _models),
    Command("check", "what a mapfootprints, detectchange or mapsites run would do (tiles, memory, time, bands, "
            "scaling, pixel size, nodata), writing nothing: the same as that command with --dry-run",
            _check_arguments, _check),
)
