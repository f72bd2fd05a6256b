"""What an algorithm is, declared once: its parameters (name, kind, default, choices, bounds, label,
help, advanced), its outputs, its help page's prose and the use case that runs it.

The surfaces are generated from these declarations: the QGIS Processing parameters
(``algorithms/adapter.py``), the ``euromine`` subcommands and flags (``cli/adapter.py``), the
algorithms' help pages and the documentation's reference pages (``core/app/reference.py``).
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..executor import Executor
from ..progress import Reporter


class Kind(enum.Enum):
    """What a parameter's value is; each surface maps a kind to its own widget or flag."""

    RASTERS = "rasters"  # one or more raster files (layers in QGIS): list[RasterInput]
    RASTER = "raster"  # one raster file: Path | None
    FOLDER = "folder"  # an existing folder: Path | None
    FILE = "file"  # an existing file with ``extension``: Path | None
    TEXT = "text"  # str ("" when not given)
    NUMBER = "number"  # float
    INTEGER = "integer"  # int | None (None only where optional)
    FLAG = "flag"  # bool
    CHOICE = "choice"  # one of ``choices``: str
    MODEL = "model"  # a bundled model of the tasks (core.engine.contract) in ``choices``, by name: str | None
    OUTPUT_FOLDER = "output folder"  # Path
    OUTPUT_FILE = "output file"  # Path | None
    OUTPUT_RASTER = "output raster"  # Path | None
    POLYGONS = "polygons"  # a polygon layer (QGIS only): Outlines | None
    FIELD = "field"  # a field of the POLYGONS parameter ``parent`` (the command: a text): str | None
    EXTENT = "extent"  # a rectangle in any CRS (QGIS only): Outlines of one unnamed shape | None


DESTINATIONS = (Kind.OUTPUT_FOLDER, Kind.OUTPUT_FILE, Kind.OUTPUT_RASTER)
QGIS, CLI = "qgis", "cli"
EVERYWHERE = frozenset({QGIS, CLI})


@dataclass(frozen=True)
class RasterInput:
    """One raster of a RASTERS value: its file, and the name it goes by (a QGIS layer's name, else
    the file's stem), where a year may be read when the file name holds none."""

    path: Path
    name: str


@dataclass(frozen=True)
class Outlines:
    """A POLYGONS value: (name, GeoJSON geometry or None) per feature, the name from the FIELD
    parameter whose ``parent`` it is, and the layer's CRS (authority id or WKT)."""

    shapes: list[tuple[object, Mapping[str, Any] | None]]
    crs: str


@dataclass(frozen=True)
class Param:
    """One parameter, as every surface shows it.

    ``label`` is the dialog's label and the first words of the flag's help; ``help`` the help page's
    paragraph (inline HTML: ``<b>``, ``<code>``). Destinations (DESTINATIONS) with ``temporary``
    get QGIS's temporary output when left out; the command, whose runs leave no session behind,
    requires those that are not ``optional``. ``surfaces`` says where the parameter exists: a
    parameter only QGIS can read (a vector layer) or that only QGIS fills in (``internal``) is not a
    flag of the command.
    """

    name: str
    kind: Kind
    label: str
    help: str = ""
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False
    advanced: bool = False
    temporary: bool = False
    extension: str = ""  # FILE: the file's extension; OUTPUT_FILE: the QGIS file filter, e.g. "CSV files (*.csv)"
    parent: str = ""  # FIELD: the POLYGONS parameter whose fields it lists
    surfaces: frozenset[str] = EVERYWHERE

    @property
    def flag(self) -> str:
        """The command's flag: ``TILE_OVERLAP`` -> ``--tile-overlap``."""
        return "--" + self.name.lower().replace("_", "-")

    @property
    def attribute(self) -> str:
        """The attribute of the command's parsed arguments that holds the value."""
        return self.name.lower()

    def but(self, **changes: Any) -> Param:
        """This parameter with ``changes`` (an algorithm's own default or label, say)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Output:
    """A result an algorithm returns that is not one of its destination parameters."""

    name: str
    kind: str  # "raster", "rasters", "file", "html", "number", "folder", "text"
    label: str


@dataclass(frozen=True)
class Outcome:
    """What a use case returns: the result dict (the same keys on every surface), the lines that
    summarise it for the log, and the core's own result for the surface's presentation (the layers
    QGIS loads, say)."""

    results: dict[str, Any]
    lines: list[str]
    value: Any = None


Values = Mapping[str, Any]
UseCase = Callable[[Values, Reporter, Executor], Outcome]


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm: identity, parameters, outputs, help prose and the use case.

    ``summary`` is one line (the command's help, the reference's lead); ``description`` the help
    page's paragraphs before the parameters (HTML); ``results`` the paragraph after them;
    ``example`` a ``processing.run`` call. ``needs_models``: every run opens an ONNX model (the
    QGIS provider leaves the algorithm out when onnxruntime cannot load).
    """

    id: str
    title: str
    group: str
    group_id: str
    summary: str
    description: str
    params: tuple[Param, ...]
    run: UseCase
    outputs: tuple[Output, ...] = ()
    results: str = ""
    example: str = ""
    needs_models: bool = False
    surfaces: frozenset[str] = EVERYWHERE
    measured: Callable[[], str] | None = None  # help HTML computed from recorded measurements when shown

    def param(self, name: str) -> Param:
        """The parameter called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.id} has no parameter {name}")

    def on(self, surface: str) -> tuple[Param, ...]:
        """The parameters ``surface`` shows."""
        return tuple(p for p in self.params if surface in p.surfaces)


def check_values(spec: AlgorithmSpec, values: Values) -> None:
    """The checks every surface gets from the spec, whatever it checked itself: choices and bounds.
    InputError naming the parameter and the value."""
    for p in spec.params:
        if p.kind not in (Kind.CHOICE, Kind.NUMBER, Kind.INTEGER):
            continue  # destinations are read only when a run writes (QGIS makes a temporary one on reading)
        value = values.get(p.name)
        if value is None or value == "":
            continue
        if p.kind is Kind.CHOICE and value not in p.choices:
            raise InputError(f"{p.name} '{value}': expected one of {', '.join(p.choices)}")
        if p.kind in (Kind.NUMBER, Kind.INTEGER):
            if p.minimum is not None and value < p.minimum:
                raise InputError(f"{p.name} {value}: must be at least {p.minimum:g}")
            if p.maximum is not None and value > p.maximum:
                raise InputError(f"{p.name} {value}: must be at most {p.maximum:g}")


def files(value: Sequence[RasterInput] | None) -> list[Path]:
    """The files of a RASTERS value."""
    return [r.path for r in value or ()]
