"""Typed errors of the engine. Every message names the file (or value) and the problem."""
from __future__ import annotations


class EuroMineError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(EuroMineError):
    """An input raster is missing, unreadable or does not fit the job."""


class ModelError(EuroMineError):
    """A model file is not a usable EuroMine ONNX model."""


class OutOfMemory(ModelError):  # noqa: N818 (named for the condition it reports, like MemoryError)
    """The device ran out of memory for a batch; a smaller batch may fit."""


class YearsError(EuroMineError):
    """Years could not be parsed or matched to inputs."""


class OutputError(EuroMineError):
    """An output cannot be written where it was asked for."""


class Cancelled(EuroMineError):  # noqa: N818 (a stop the user asked for, not a failure)
    """The caller asked the run to stop; nothing partial was left behind."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (GDAL's can run long), for error messages."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
