"""The command's side of the engine's Reporter: a progress bar on a terminal (tqdm), plain lines
elsewhere, log lines and warnings on stderr, and Ctrl-C turned into the engine's cancellation."""
from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from ..core.progress import Reporter

PLAIN_STEP = 10  # percent between two progress lines when stderr is not a terminal


class Console:
    """Where one command run reports to: ``stream`` (stderr), with a tqdm bar when it is a terminal.

    Call close() when the run ends, so that the bar is finished before the results are printed.
    """

    def __init__(self, stream: IO[str] = sys.stderr, bar: bool | None = None) -> None:
        self.stream = stream
        self.cancel = threading.Event()
        self._bar_wanted = stream.isatty() if bar is None else bar
        self._bar = None
        self._next_line = PLAIN_STEP

    def close(self) -> None:
        """End the progress bar, if one is shown (later log lines are plain)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def reporter(self) -> Reporter:
        """The Reporter the core calls: progress, log lines, warnings, and Ctrl-C as cancellation."""
        return Reporter(progress=self.progress, info=self.info, is_canceled=self.cancel.is_set, warning=self.warning)

    def progress(self, percent: float) -> None:
        """Show ``percent`` (0–100): the bar on a terminal, else a line every PLAIN_STEP percent."""
        percent = min(max(percent, 0.0), 100.0)
        if self._bar_wanted:
            if self._bar is None:
                from tqdm import tqdm  # only a terminal needs it

                self._bar = tqdm(total=100, file=self.stream, unit="%", dynamic_ncols=True,
                                 bar_format="{l_bar}{bar}| {n:.0f}/100 % [{elapsed}<{remaining}]")
            self._bar.update(percent - self._bar.n)
            return
        while percent >= self._next_line:
            self.info(f"{self._next_line}%")
            self._next_line += PLAIN_STEP

    def info(self, text: str) -> None:
        """A log line (above the bar while one is shown)."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def warning(self, text: str) -> None:
        """A warning: a log line that starts "Warning:"."""
        self.info(f"Warning: {text}")

    @contextmanager
    def ctrl_c_cancels(self) -> Iterator[None]:
        """While inside: the first Ctrl-C (SIGINT) asks the engine to stop at its next tile, so
        that it removes what it had begun (its outputs are atomic); a second one interrupts at once."""
        def first(_signum, _frame) -> None:
            self.cancel.set()
            self.info("Interrupted: stopping at the next tile (Ctrl-C again to stop at once)")
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, first)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
