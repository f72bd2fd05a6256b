"""The check every refused case of the robustness matrix ends with: inputs byte-identical and
nothing new, partial or whole, under any output name."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def digests(paths: Iterable[Path]) -> dict[Path, str | None]:
    """sha256 of each file's bytes (None for a missing file)."""
    return {Path(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).is_file() else None for p in paths}


def contents(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones and subfolders included) with its sha256."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def refused(error: type[BaseException], match: str, inputs: Iterable[Path], outputs: Iterable[Path]) -> Iterator:
    """Expect ``error`` with a message matching ``match``; then check that every input is
    byte-identical and that no output folder holds a file it did not hold before."""
    inputs, outputs = list(inputs), list(outputs)
    before_inputs = digests(inputs)
    before_outputs = {folder: contents(folder) for folder in outputs}
    with pytest.raises(error, match=match) as caught:
        yield caught
    assert digests(inputs) == before_inputs, "an input changed"
    for folder in outputs:
        assert contents(folder) == before_outputs[folder], f"{folder} holds new files after a refused run"
