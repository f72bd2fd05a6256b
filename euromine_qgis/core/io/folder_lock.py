"""One run at a time per output folder: an operating-system lock on a small file in the folder.

The lock is the system's own (``fcntl.flock`` on Linux and macOS, ``msvcrt.locking`` on
Windows), so it is released by the system when the process holding it ends, even by a crash;
a lock file left behind by such a run is taken over, and the log says so. The file holds who
took the lock (process id, host, start time, what it runs) so that a second run can name it.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..progress import Reporter

LOCK_NAME = ".euromine.lock"
# Windows locks are mandatory: the byte locked lies far beyond the holder's details so that
# another run can still read them.
_WINDOWS_LOCK_OFFSET = 1 << 30

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def folder_lock(folder: Path, runs: str, reporter: Reporter = Reporter()) -> Iterator[None]:
    """Hold the lock of the output ``folder`` (which must exist) while the block runs.

    ``runs`` says what this run does (e.g. "mapfootprints"). Raises OutputError naming the other
    run (process id, program, host, start time, what it runs) when that one holds the lock; two
    threads of one process exclude each other too. The lock file is removed on leaving. On a file
    system without file locks (some network shares) the run goes ahead unguarded and says so.
    """
    path = Path(folder) / LOCK_NAME
    fd = _acquire(path)
    if fd is None:
        reporter.info(f"{path.parent}: this folder's file system has no file locks, so a second run into it "
                      "at the same time would not be refused; start one run at a time here")
        yield
        return
    try:
        previous = _read_holder(fd)
        if previous:
            reporter.info(f"{path}: took over the lock of an earlier run that ended without releasing it "
                          f"({_describe(previous)})")
        _write_holder(fd, runs)
        yield
    finally:
        _release(fd, path)


# How a file system without file locks answers a lock request.
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def _acquire(path: Path) -> int | None:
    """Open and lock ``path``, retrying when the holder removed the file between our open and lock;
    None when the file system has no locks."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create the output folder's lock file ({exc.strerror})") from exc
        try:
            locked = _try_lock(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in _NO_LOCKS:
                raise OutputError(f"{path}: the output folder cannot be locked ({exc.strerror})") from exc
            path.unlink(missing_ok=True)
            return None
        if not locked:
            os.close(fd)
            raise OutputError(f"{path.parent}: another run is writing into this output folder "
                              f"({_describe(_read_holder_at(path))}); wait until it ends or choose another "
                              "output folder")
        if _same_file(fd, path):
            return fd
        _unlock(fd)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _release(fd: int, path: Path) -> None:
    """Empty, remove and unlock the lock file; emptied first so a successor never sees our details as stale."""
    try:
        os.ftruncate(fd, 0)
        if sys.platform != "win32":
            path.unlink(missing_ok=True)
        _unlock(fd)
    finally:
        os.close(fd)
    if sys.platform == "win32":
        try:
            path.unlink(missing_ok=True)
        except PermissionError:  # a waiting run has it open and takes it next
            pass


def _write_holder(fd: int, runs: str) -> None:
    holder = {"pid": os.getpid(), "program": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else sys.executable,
              "host": socket.gethostname(), "started": datetime.now().astimezone().isoformat(timespec="seconds"),
              "runs": runs}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(holder).encode("utf-8"))


def _read_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    return _parse(os.read(fd, 4096))


def _read_holder_at(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as lock_file:
            return _parse(lock_file.read(4096))
    except OSError:
        return {}


def _parse(data: bytes) -> dict[str, Any]:
    try:
        holder = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "its details are not written yet"
    return (f"{holder.get('runs', '?')} in process {holder.get('pid', '?')} ({holder.get('program', '?')}) "
            f"on host {holder.get('host', '?')}, started {holder.get('started', '?')}")
