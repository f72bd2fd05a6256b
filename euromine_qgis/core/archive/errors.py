"""The archive's typed error: which service, at which step, failed how."""
from __future__ import annotations

from ..errors import EuroMineError

SEARCH, READ, WRITE, SIGN = "search", "read", "write", "sign"


class ArchiveError(EuroMineError):
    """A STAC service or its assets failed at one step (search, sign, read, write) after the retries."""

    def __init__(self, url: str, step: str, problem: str) -> None:
        super().__init__(f"{url}: {step} failed: {problem}")
        self.url, self.step = url, step
