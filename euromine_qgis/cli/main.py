"""``euromine``: the Processing algorithms as a command, without QGIS.

Exit codes: 0 done; 2 bad input (the engine's InputError, YearsError, ModelError or OutputError,
with the message the algorithm shows, or a usage error); 130 interrupted by Ctrl-C (nothing
partial is left: the engine's outputs are atomic); 1 anything else (a device out of memory, a bug).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ..core.errors import Cancelled, EuroMineError, OutOfMemory
from .commands import COMMANDS, Command
from .console import Console

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """exit codes: 0 done, 2 bad input (the same message as the Processing algorithm), 130 interrupted
(Ctrl-C; nothing partial is left), 1 any other failure.
Progress and log lines go to stderr (a progress bar on a terminal), the results to stdout (--json: the
algorithm's result dict). Polygon outputs (GeoPackage) are made only by the QGIS algorithms."""


def build_parser() -> argparse.ArgumentParser:
    """The ``euromine`` parser: one subparser per Command, each with --json."""
    parser = argparse.ArgumentParser(
        prog="euromine", description="EuroMine without QGIS: mining footprints, change layers and CA-TIoU "
        "from annual Sentinel-2 imagery with ONNX models.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result dict as JSON on stdout")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, parents=[common], help=command.help, description=command.help,
                                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(sub)
        sub.set_defaults(command=command)
    return parser


def run(command: Command, args: argparse.Namespace, console: Console) -> int:
    """Run ``command`` with Ctrl-C as the engine's cancellation; print its results; the exit code."""
    try:
        with console.ctrl_c_cancels():
            result, lines = command.run(args, console.reporter())
    except (Cancelled, KeyboardInterrupt) as exc:
        console.info(f"euromine {command.name}: {exc or 'interrupted'}")
        return EXIT_INTERRUPTED
    except OutOfMemory as exc:
        console.info(f"euromine {command.name}: error: {exc}")
        return EXIT_FAILED
    except EuroMineError as exc:
        console.info(f"euromine {command.name}: error: {exc}")
        return EXIT_BAD_INPUT
    console.close()  # the bar ends before the results
    if args.json:  # the result dict instead of the summary lines
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print("\n".join(lines))
    if console.cancel.is_set():
        console.info(f"euromine {command.name}: interrupted after the run had finished; its outputs are complete")
        return EXIT_INTERRUPTED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The ``euromine`` console script: parse ``argv``, run the subcommand, return the exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return run(args.command, args, console)
    except BrokenPipeError:  # stdout closed early (`| head`): what it took was all that was wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        console.close()
