"""How the engine reports progress and log lines and learns of cancellation, without QGIS."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import Cancelled


def _ignore(*_args: object) -> None:
    return None


@dataclass
class Reporter:
    """Callbacks the engine calls at tile granularity. QGIS adapters wrap a feedback object."""

    progress: Callable[[float], None] = _ignore  # percent, 0–100
    info: Callable[[str], None] = _ignore
    is_canceled: Callable[[], bool] = lambda: False

    def check(self) -> None:
        """Raise Cancelled when the caller asked to stop."""
        if self.is_canceled():
            raise Cancelled("the run was cancelled; no partial output was kept")
