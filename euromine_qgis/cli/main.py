"""``euromine``: the Processing algorithms as a command, without QGIS.

Exit codes: 0 done; 2 bad input (the engine's InputError, YearsError, ModelError or OutputError,
with the message the algorithm shows, or a usage error); 130 interrupted by Ctrl-C (nothing
partial is left: the engine's outputs are atomic); 1 anything else (a device out of memory, a STAC
service or its assets failing after the retries, a bug).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ..core.app.catalog import SPECS
from ..core.app.execution import run_spec
from ..core.app.params import DRY_RUN, has_dry_run
from ..core.app.spec import CLI, AlgorithmSpec, Outcome
from ..core.archive.errors import ArchiveError
from ..core.errors import Cancelled, EuroMineError, OutOfMemory
from ..core.progress import Reporter
from .console import Console
from .flags import add_flags, read_values

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """exit codes: 0 done, 2 bad input (the same message as the Processing algorithm), 130 interrupted
(Ctrl-C; nothing partial is left), 1 any other failure.
Progress and log lines go to stderr (a progress bar on a terminal), the results to stdout (--json: the
algorithm's result dict). Polygon outputs (GeoPackage) are made only by the QGIS algorithms."""


CHECK_HELP = ("what a {names} run would do (tiles, memory, time, bands, scaling, pixel size, nodata), writing "
              "nothing: the same as that command with --dry-run")


def run_command(spec: AlgorithmSpec, args: argparse.Namespace, reporter: Reporter) -> Outcome:
    """The use case of ``spec`` on the flags in ``args`` (``euromine check`` sets DRY_RUN)."""
    values = read_values(spec, args)
    if getattr(args, "checking", False):
        values[DRY_RUN.name] = True
    return run_spec(spec, values, reporter)


def _subcommand(subparsers: argparse._SubParsersAction, spec: AlgorithmSpec, common: argparse.ArgumentParser,
                **defaults: object) -> argparse.ArgumentParser:
    sub = subparsers.add_parser(spec.id, parents=[common], help=spec.summary, description=spec.summary,
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(sub, spec)
    sub.set_defaults(spec=spec, **defaults)
    return sub


def build_parser() -> argparse.ArgumentParser:
    """The ``euromine`` parser: one subcommand per spec the command has, each with --json, and
    ``check`` with one sub-subcommand per spec that has a dry run."""
    parser = argparse.ArgumentParser(
        prog="euromine", description="EuroMine without QGIS: mining footprints, change layers and CA-TIoU "
        "from annual Sentinel-2 imagery with ONNX models.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result dict as JSON on stdout")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    specs = [spec for spec in SPECS if CLI in spec.surfaces]
    for spec in specs:
        _subcommand(subparsers, spec, common)
    checked = [spec for spec in specs if has_dry_run(spec)]
    check_help = CHECK_HELP.format(names=", ".join(s.id for s in checked[:-1]) + f" or {checked[-1].id}")
    check = subparsers.add_parser("check", parents=[common], help=check_help, description=check_help, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    runs = check.add_subparsers(title="the run to check", metavar="COMMAND", required=True)
    either_side = argparse.ArgumentParser(add_help=False)  # --json before or after the checked command's name
    either_side.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                             help="print the result dict as JSON on stdout")
    for spec in checked:
        _subcommand(runs, spec, either_side, checking=True)
    return parser


def run(spec: AlgorithmSpec, args: argparse.Namespace, console: Console) -> int:
    """Run ``spec``'s use case with Ctrl-C as the engine's cancellation; print its results; the exit code."""
    name = "check" if getattr(args, "checking", False) else spec.id
    try:
        with console.ctrl_c_cancels():
            outcome = run_command(spec, args, console.reporter())
    except (Cancelled, KeyboardInterrupt) as exc:
        console.info(f"euromine {name}: {exc or 'interrupted'}")
        return EXIT_INTERRUPTED
    except (OutOfMemory, ArchiveError) as exc:  # the machine or a service failed, not the input
        console.info(f"euromine {name}: error: {exc}")
        return EXIT_FAILED
    except EuroMineError as exc:
        console.info(f"euromine {name}: error: {exc}")
        return EXIT_BAD_INPUT
    console.close()  # the bar ends before the results
    if args.json:  # the result dict instead of the summary lines
        print(json.dumps(outcome.results, indent=2, ensure_ascii=False))
    else:
        print("\n".join(outcome.lines))
    if console.cancel.is_set():
        console.info(f"euromine {name}: interrupted after the run had finished; its outputs are complete")
        return EXIT_INTERRUPTED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The ``euromine`` console script: parse ``argv``, run the subcommand, return the exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return run(args.spec, args, console)
    except BrokenPipeError:  # stdout closed early (`| head`): what it took was all that was wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        console.close()
