"""The ``euromine`` subcommands' flags made from the specs' declarations (core.app.spec), named
after the parameters (``TILE_OVERLAP`` -> ``--tile-overlap``) with their defaults, choices and
help, and each value read back by its kind as the use cases take it."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.app.models import bundled_names, model_default
from ..core.app.reference import default_text, plain
from ..core.app.spec import CLI, DESTINATIONS, AlgorithmSpec, Kind, Param, RasterInput


def absolute_path(text: str) -> Path:
    """A path flag's value made absolute (as QGIS hands algorithms their files), so that result
    dicts and messages name files wherever the command was started."""
    return Path(text).absolute()


def _help(p: Param) -> str:
    shown = default_text(p) if p.kind not in DESTINATIONS else ""
    text = plain(p.label) + (f" (default {shown})" if shown else "")
    return text.replace("%", "%%")  # argparse formats help with %


def add_flag(parser: argparse.ArgumentParser, p: Param) -> None:
    """``p`` as a flag of ``parser``: a destination the QGIS dialog fills with a temporary file is
    required unless it is optional (a command leaves no session to hold temporary files behind)."""
    options: dict[str, Any] = {"dest": p.attribute, "help": _help(p)}
    kind = p.kind
    if kind is Kind.RASTERS:
        options.update(nargs="+", action="extend", type=absolute_path, required=not p.optional, metavar="FILE",
                       help=options["help"] + " (one or more; the flag may repeat)")
    elif kind in (Kind.RASTER, Kind.FOLDER, Kind.FILE, *DESTINATIONS):
        options.update(type=absolute_path, default=None, required=not p.optional)
    elif kind is Kind.FLAG:
        options.update(action=argparse.BooleanOptionalAction if p.default else "store_true", default=p.default)
    elif kind is Kind.CHOICE:
        options.update(choices=p.choices, default=p.default)
    elif kind is Kind.MODEL:
        options.update(choices=bundled_names(p.choices), default=model_default(p))
    elif kind is Kind.NUMBER:
        options.update(type=float, default=p.default)
    elif kind is Kind.INTEGER:
        options.update(type=int, default=p.default)
    elif kind is Kind.FIELD:  # a property of a file's features, by name
        options.update(default=p.default)
    else:
        options.update(default=p.default or "")
    parser.add_argument(p.flag, **options)


def add_flags(parser: argparse.ArgumentParser, spec: AlgorithmSpec) -> None:
    """Every parameter of ``spec`` the command has, as a flag (DRY_RUN included)."""
    for p in spec.on(CLI):
        add_flag(parser, p)


def read_values(spec: AlgorithmSpec, args: argparse.Namespace) -> dict[str, Any]:
    """The values of ``spec``'s parameters in ``args``, as the use case takes them."""
    values = {}
    for p in spec.on(CLI):
        value = getattr(args, p.attribute)
        if p.kind is Kind.RASTERS:
            value = [RasterInput(path, path.stem) for path in value or ()]
        values[p.name] = value
    return values
