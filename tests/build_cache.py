"""What the tests build once and keep under build/, keyed by its inputs: a digest of the files it is
made from, and a lock so that parallel test processes (pytest-xdist's workers) build it once."""
from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def files_digest(*paths: str, extra: str = "") -> str:
    """sha256 over every file under ``paths`` (relative to the repository; a linked file or folder is
    read through its link; caches left out), their relative paths and ``extra``."""
    digest = hashlib.sha256(extra.encode() + b"\0")
    for top in paths:
        root = REPO / top
        files = [root] if root.is_file() else sorted(
            Path(folder, name) for folder, _, names in os.walk(root, followlinks=True)
            if "__pycache__" not in Path(folder).parts for name in names if not name.endswith(".pyc"))
        for path in files:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made with its folder when missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def kept_file(kind: str, key: str) -> Path:
    """Where what is made from ``key`` is kept: build/test-cache/KIND/KEY (see keep)."""
    return REPO / "build" / "test-cache" / kind / key


def keep(path: Path, data: bytes) -> None:
    """Keep ``data`` at ``path`` for the next run, never half-written under its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def onnx_export_key(test_file: str, name: str) -> str:
    """The key of architecture ``name`` exported by ``test_file``: the architectures' code, the test
    (its widths, calibration and export call) and the versions of the exporter's packages."""
    import onnx
    import onnxscript
    import torch

    versions = f"torch {torch.__version__} onnx {onnx.__version__} onnxscript {onnxscript.__version__}"
    return files_digest("export/architectures", test_file, extra=f"{name} {versions}")
