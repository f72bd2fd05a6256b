"""How the engine reports progress and log lines and learns of cancellation, without QGIS."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import Cancelled


def _ignore(*_args: object) -> None:
    return None


@dataclass(frozen=True)
class Reporter:
    """Callbacks the engine calls at tile granularity. QGIS adapters wrap a feedback object."""

    progress: Callable[[float], None] = _ignore  # percent, 0–100
    info: Callable[[str], None] = _ignore
    is_canceled: Callable[[], bool] = lambda: False
    warning: Callable[[str], None] | None = None  # a warning (None: a log line that starts "Warning:")

    def warn(self, text: str) -> None:
        """Pass on a warning: something the user should look at that does not stop the run."""
        if self.warning is not None:
            self.warning(text)
        else:
            self.info(f"Warning: {text}")

    def check(self) -> None:
        """Raise Cancelled when the caller asked to stop."""
        if self.is_canceled():
            raise Cancelled("the run was cancelled; no partial output was kept")

    def sub_range(self, start: float, stop: float) -> Reporter:
        """A reporter for one part of a job: its 0–100 % fill ``start``–``stop`` % of this one's
        bar; log lines and cancellation pass through."""
        span = stop - start
        return Reporter(progress=lambda p: self.progress(start + span * p / 100.0), info=self.info,
                        is_canceled=self.is_canceled, warning=self.warning)

    def silent(self) -> Reporter:
        """A reporter for a part of a job that shows neither progress nor log lines (another part
        speaks for it); cancellation passes through."""
        return Reporter(is_canceled=self.is_canceled)
