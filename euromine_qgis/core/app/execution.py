"""Where a run's tasks run, from its SCHEDULER: here (core.executor.LOCAL), or a Dask cluster."""
from __future__ import annotations

from ..executor import LOCAL, Executor


def executor_for(scheduler: str) -> Executor:
    """The executor SCHEDULER names: LOCAL when it is empty, else the Dask cluster (Dask is imported
    only then); InputError for a SCHEDULER that names neither form."""
    from ..batch.distributed import Cluster, parse_scheduler  # Dask's module: only when a scheduler is given

    where = parse_scheduler(scheduler)
    return LOCAL if where is None else Cluster(where)
