"""The robustness matrix's fixtures: real small and read-only filesystems (tmpfs mounts, always
unmounted)."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at ``where`` with mount ``options`` (size=…, ro); unmounted however
    the test ends (lazily when a handle is still open). Skips where mounting is not permitted."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with mount rights): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 256 KiB filesystem: room for an empty folder and a small raster, not for a real output."""
    with tmpfs(tmp_path / "small_disk", "size=256k") as where:
        yield where


@pytest.fixture
def read_only_folder(tmp_path) -> Iterator[Path]:
    """A folder on a read-only mount: refuses every write, root's included."""
    with tmpfs(tmp_path / "read_only", "ro,size=64k") as where:
        yield where
