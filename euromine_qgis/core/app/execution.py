"""Running a spec's use case, the same on every surface: the spec's own checks, then the use case
with the executor its SCHEDULER names (here, core.executor.LOCAL, or a Dask cluster)."""
from __future__ import annotations

from ..executor import LOCAL, Executor
from ..progress import Reporter
from .params import SCHEDULER
from .spec import AlgorithmSpec, Outcome, Values, check_values


def executor_for(values: Values) -> Executor:
    """The executor SCHEDULER names in ``values``: LOCAL when it is empty or the algorithm has none,
    else the Dask cluster (Dask is imported only then); InputError for a SCHEDULER of neither form."""
    from ..batch.distributed import Cluster, parse_scheduler  # Dask's module: only when a scheduler is given

    where = parse_scheduler(values.get(SCHEDULER.name) or "")
    return LOCAL if where is None else Cluster(where)


def run_spec(spec: AlgorithmSpec, values: Values, reporter: Reporter) -> Outcome:
    """Run ``spec``'s use case on ``values`` (every parameter of the surface, as read by its adapter)
    after the spec's own checks, on the executor of its SCHEDULER."""
    check_values(spec, values)
    return spec.run(values, reporter, executor_for(values))
