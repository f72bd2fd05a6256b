"""Where a run's tasks run: here, one after the other (LocalExecutor), or as tasks of a Dask
cluster (batch.distributed.Cluster).

A run (maps.footprints.map_footprints, batch.sites.map_sites) checks its inputs here, on the
client, with the same code whatever runs its tasks; then it hands the per-year or per-site work
to an executor as tasks and keeps the finishing step (moving a year's files, committing a site)
for itself, called here as each task ends.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .progress import Reporter

if TYPE_CHECKING:
    from .engine.model import Model

TaskT = TypeVar("TaskT", bound="Task")


class Task(Protocol):
    """One piece of a run's work. A plain, picklable value, so that it can travel to a Dask worker."""

    @property
    def label(self) -> str:
        """What the task maps (a site's name, its years): the prefix of the log lines it sends back."""

    def __call__(self, model: Model, reporter: Reporter) -> Any:
        """Do the work with ``model`` (or the same model file opened where the task runs), reporting
        progress and log lines to ``reporter`` and stopping at its next tile when it is cancelled."""


class Executor(Protocol):
    """Runs a run's tasks."""

    def run(self, tasks: Sequence[TaskT], model: Model, reporter: Reporter,
            finish: Callable[[TaskT, Any], None]) -> None:
        """Run every task and call ``finish(task, result)`` here, in this process, as each ends.
        The tasks' log lines and warnings reach ``reporter``; a cancellation (``reporter.check``) or
        a failed task stops the others and its error is raised once none is still running."""


@dataclass(frozen=True)
class LocalExecutor:
    """The tasks here, in this process, one after the other, each on its share of the progress bar."""

    def run(self, tasks: Sequence[TaskT], model: Model, reporter: Reporter,
            finish: Callable[[TaskT, Any], None]) -> None:
        """Executor.run: each task, then its finish, before the next one starts."""
        for n, task in enumerate(tasks):
            reporter.check()
            step = reporter.sub_range(100.0 * n / len(tasks), 100.0 * (n + 1) / len(tasks))
            finish(task, task(model, step))
            step.progress(100.0)


LOCAL = LocalExecutor()
