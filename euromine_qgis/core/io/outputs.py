"""Writing outputs safely: the output folder is usable, no output overwrites an input, and files
appear under their names only when complete (atomic_outputs); CSV tables written one way."""
from __future__ import annotations

import csv
import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import EuroMineError, OutputError, first_line
from .raster import RASTERIO_ERRORS, missing_pixel_data, open_raster

LOW_DISK_BYTES = 1 << 20  # free space under which a failed write is reported as a full disk
# errno values of a write that failed because of where it was written, not of what was written
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def check_output_folder(folder: Path) -> None:
    """Create ``folder`` if needed and make sure files can be created there.

    Writability is tried with an unnamed temporary file rather than read from mode bits, which
    do not bind root; a read-only mount or an immutable folder refuses root too.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder; choose a folder for the outputs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc.strerror})") from exc
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"{folder}: output folder is not writable ({exc.strerror}); choose another folder") from exc


def check_not_inputs(outputs: Iterable[Path | None], inputs: Iterable[Path], remedy: str,
                     inputs_are: str = "an input") -> None:
    """Raise OutputError when one of ``outputs`` is one of ``inputs``: inputs are never modified.
    ``remedy`` says what to change (e.g. "choose another OUTPUT_FOLDER"), ``inputs_are`` what
    the inputs are (e.g. "an input image")."""
    sources = {Path(p).resolve() for p in inputs}
    for output in outputs:
        if output is not None and Path(output).resolve() in sources:
            raise OutputError(f"{output}: output would overwrite {inputs_are}; {remedy}")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a UTF-8 CSV table: ``header``, then ``rows`` of cells already formatted. Give it a
    temporary path of atomic_outputs."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


@contextmanager
def atomic_outputs(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; rename them onto the targets only on success.

    A failure or cancellation inside the block deletes the temporaries, so no partial file ever
    sits under a requested output name. Finished GeoTIFFs are checked before the rename: GDAL
    reports a failed flush at close (a full disk, say) only in its log, never as an exception.
    A write that fails (inside the block or at that check) raises OutputError naming the target
    and, when the disk is full, saying so.
    """
    token = uuid.uuid4().hex[:8]
    temps = [_partial(t, token) for t in targets]
    try:
        yield temps
        for temp, target in zip(temps, targets, strict=True):
            _check_written(temp, target)
    except BaseException as exc:
        error = _write_error(exc, temps, targets)  # measured while the temporaries still hold their space
        for temp in temps:
            _remove_quietly(temp)
        if error is not None:
            raise error from exc
        raise
    try:
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except OSError as exc:
        for temp in temps:
            _remove_quietly(temp)
        raise OutputError(f"{target}: cannot move the finished output into place ({exc.strerror})") from exc


def _partial(target: Path, token: str) -> Path:
    """The temporary name of ``target`` in the atomic_outputs that ``token`` names ("*": any)."""
    return target.with_name(f".{target.stem}.partial-{token}{target.suffix}")


def remove_partials(targets: Iterable[Path]) -> None:
    """Remove the temporaries of ``targets`` that atomic_outputs left when its process was killed."""
    for target in targets:
        for leftover in target.parent.glob(_partial(target, "*").name):
            _remove_quietly(leftover)


def _check_written(temp: Path, target: Path) -> None:
    """Raise OutputError when the finished GeoTIFF ``temp`` lacks pixel data or cannot be read."""
    if temp.suffix.lower() not in (".tif", ".tiff") or not temp.exists():
        return
    try:
        with open_raster(temp) as src:
            problem = missing_pixel_data(src, temp)
    except RASTERIO_ERRORS as exc:
        problem = f"the written file cannot be read back ({first_line(exc)})"
    if problem:
        raise OutputError(f"{target}: {_disk_full(target.parent) or 'writing the output failed'}; "
                          f"nothing partial was kept ({problem})")


def _write_error(exc: BaseException, temps: Sequence[Path], targets: Sequence[Path]) -> OutputError | None:
    """The OutputError for ``exc`` when it is a failed write of one of ``temps``, else None."""
    if isinstance(exc, EuroMineError) or not isinstance(exc, Exception):
        return None
    text = str(exc)
    names = [temp.name for temp in temps]
    hit = next((target for name, target in zip(names, targets, strict=True) if name in text), None)
    if hit is None and not (isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS):
        return None  # not about an output: a failed read, a model error, a bug
    folder = (hit or targets[0]).parent
    return OutputError(f"{hit or folder}: {_disk_full(folder) or 'writing the output failed'}; "
                       f"nothing partial was kept ({first_line(exc)})")


def _disk_full(folder: Path) -> str | None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= LOW_DISK_BYTES:
        return None
    return f"the disk holding {folder} is full ({free // 1024} KiB free); free space there or choose another folder"


def _remove_quietly(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".aux.xml"), path.with_name(path.name + ".msk")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
