"""The Dask executor (core.executor): sites (mapsites) and years (mapfootprints) as tasks of a
Dask distributed cluster.

Dask's scheduler does the scheduling; the runs check their inputs on the client and say what a
task is and what the client keeps for itself. Before the first task every worker imports the
tasks' modules and opens the model, all at once, so the first tasks do not pay for it one after
the other. A worker opens each model once (cached per worker process by the model file's sha256,
device, normalization and SCALE), with onnxruntime's threads capped at its share of its host's
cores (cores / worker threads on that host): each worker thread runs a task of its own, and
uncapped each task's onnxruntime would start a thread per core. Workers write through the engine's
own atomic writes into hidden staging folders of the shared output folder. The client
alone moves finished outputs under their names, writes every site's manifest and the summary, so
a resumed run reads exactly what a local run would have left. A task's log lines and warnings
are recorded on its worker, travel back with its result and are replayed, in order and prefixed
with the task's label, into the client's reporter.

A worker that dies while it runs a task leaves at most a staging folder: the scheduler runs the
task again on another worker and the client removes the dead one's staging folder at the end.
Cancellation goes to the running tasks through a Dask Event that their reporter polls at tile
granularity, so each stops at its next tile and removes its own staging folder.

Dask is imported only here, and this module only when a scheduler is given.
"""
from __future__ import annotations

import configparser
import importlib
import platform
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.contract import NormalizationOverride
from ..errors import EuroMineError, InputError, ModelError, first_line
from ..executor import Task, TaskT
from ..io.checksum import sha256_of
from ..progress import Reporter

if TYPE_CHECKING:
    from distributed import Client, Future
    from distributed import Scheduler as DaskScheduler

    from ..engine.model import Model

CONNECT_TIMEOUT_S = 10.0  # an unreachable scheduler (or one without workers) is an error after this long
CANCEL_POLL_S = 0.5  # how often a running task asks the scheduler whether the run was cancelled
CANCEL_WAIT_S = 120.0  # how long a cancelled run waits for its running tasks to stop at their next tile
GPU_DEVICES = ("cuda", "tensorrt")
SCHEDULER_FORMS = "tcp://HOST:PORT (a running Dask scheduler) or local:N (N local worker processes)"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Which model a worker opens and how: plain values that travel to the workers."""

    path: Path
    sha256: str
    device: str
    override: NormalizationOverride | None = None
    scale: float
    intra_op_threads: int | None = None  # None: onnxruntime's default (a thread per core)

    @classmethod
    def of(cls, path: Path, device: str, *, override: NormalizationOverride | None = None,
           scale: float) -> ModelSpec:
        """The spec of the model file ``path`` (its sha256 read here, on the client)."""
        return cls(path=Path(path), sha256=sha256_of(path), device=device, override=override, scale=scale)

    @classmethod
    def of_model(cls, model: Model) -> ModelSpec:
        """The spec of ``model`` as the client opened it: the file that runs (a precision sibling
        included) on the DEVICE it was asked for, with the bands and normalization it runs with
        (BANDS/MEAN/STD overrides and SCALE already folded in)."""
        info = model.info
        return cls.of(model.path, model.requested_device,
                      override=NormalizationOverride(tuple(info.bands), tuple(info.mean), tuple(info.std)),
                      scale=1.0)  # SCALE is folded into the override's normalization

    def resources(self, model: Model) -> dict[str, float]:
        """Dask worker resources a task of this model holds: one GPU when it runs on a GPU (DEVICE
        cuda or tensorrt, or the client's own model landed on one), so a GPU runs one task at a time."""
        from ..engine.devices import GPU_PROVIDERS

        return {"GPU": 1} if self.device in GPU_DEVICES or model.provider in GPU_PROVIDERS else {}

    def open(self) -> Model:
        """The model in this process, opened once per process (with ``intra_op_threads``): the file
        must be the one the client read."""
        key = (self.sha256, self.device, self.override, self.scale)
        if key not in _MODELS:
            from ..engine.model import Model

            found = sha256_of(self.path) if self.path.is_file() else "no file"
            if found != self.sha256:
                raise ModelError(f"{self.path} on worker host {socket.gethostname()}: not the model file the run "
                                 f"was started with (sha256 {found}, expected {self.sha256}); every worker must "
                                 "see the same files")
            _MODELS[key] = Model(self.path, device=self.device, override=self.override, scale=self.scale,
                                 intra_op_threads=self.intra_op_threads)
        return _MODELS[key]


# one per worker process: ModelSpec.open
_MODELS: dict[tuple[str, str, NormalizationOverride | None, float], Model] = {}


@dataclass(frozen=True)
class Scheduler:
    """Where the tasks run: a scheduler's address, or a LocalCluster of ``local_workers`` processes."""

    text: str
    address: str | None = None
    local_workers: int = 0


def parse_scheduler(text: str) -> Scheduler | None:
    """SCHEDULER as given: None when empty (run here), else the Scheduler it names; InputError otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("local:"):
        count = text.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise InputError(f"SCHEDULER '{text}': local:N needs a number of worker processes N >= 1")
        return Scheduler(text, local_workers=int(count))
    scheme, _, rest = text.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls") or not host or not port.isdigit():
        raise InputError(f"SCHEDULER '{text}': expected {SCHEDULER_FORMS}")
    return Scheduler(text, address=text)


def project_version() -> str:
    """This installation's EuroMine version (the plugin's metadata.txt, which the wheel carries too)."""
    metadata = configparser.ConfigParser()
    metadata.read(Path(__file__).resolve().parents[2] / "metadata.txt", encoding="utf-8")
    return metadata.get("general", "version", fallback="unknown")


def environment_versions() -> dict[str, str]:
    """What client and workers must agree on: EuroMine's, Dask distributed's and Python's versions."""
    import distributed

    # set in distributed/__init__.py but not re-exported, so its stubs leave it out
    version = distributed.__version__  # type: ignore[attr-defined]
    return {"euromine": project_version(), "distributed": version,
            "python": ".".join(platform.python_version_tuple()[:2])}


@dataclass(frozen=True)
class Cluster:
    """The Dask executor: a run's tasks on the workers of ``scheduler``, each opening the model file
    the client runs (ModelSpec.of_model)."""

    scheduler: Scheduler

    def run(self, tasks: Sequence[TaskT], model: Model, reporter: Reporter,
            finish: Callable[[TaskT, Any], None]) -> None:
        """Executor.run on the cluster: every task submitted at once, each opening ``model``'s file
        on its worker; as each ends its log lines are replayed into ``reporter`` and ``finish`` is
        called here. On cancellation or a failed task the running tasks are told to stop (a Dask
        Event) and waited for before the error is raised."""
        if not tasks:
            return
        started = time.monotonic()
        spec = ModelSpec.of_model(model)
        resources = spec.resources(model)
        with self.connected(reporter, resources) as client:
            spec = replace(spec, intra_op_threads=intra_op_share(client))
            workers = _prepare(client, spec, resources, {type(task).__module__ for task in tasks})
            reporter.info(f"Dask: {workers} worker(s) ready in {time.monotonic() - started:.1f} s (started, checked, "
                          f"{spec.path.name} opened with {spec.intra_op_threads} onnxruntime thread(s) each)")
            _run(client, tasks, spec, resources, reporter, finish)

    @contextmanager
    def connected(self, reporter: Reporter, resources: dict[str, float]) -> Iterator[Client]:
        """Inside: a client of the scheduler (or of a started LocalCluster) whose workers run this
        EuroMine version and offer ``resources``; InputError within CONNECT_TIMEOUT_S when none answers."""
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise InputError(f"SCHEDULER {self.scheduler.text}: Dask distributed is not installed here "
                             f"({first_line(exc)}); install it with pip install 'euromine[dask]'") from exc

        if self.scheduler.address is None:
            reporter.info(f"Dask: starting a LocalCluster of {self.scheduler.local_workers} worker process(es)")
            # On a GPU each local worker offers the GPU resource the tasks ask for (they share the GPU).
            # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_ set (and set it in this process
            # too), which fixes glibc's mmap threshold at 128 KiB: every array the engine allocates is
            # then mapped and zeroed anew, and a site took about 1.5 times the CPU it takes here.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
                    LocalCluster(n_workers=self.scheduler.local_workers, threads_per_worker=1, processes=True,
                                 dashboard_address=None, resources=resources or None) as local, \
                    Client(local) as client:
                self._check(client, reporter, resources)
                yield client
            return
        try:
            client = Client(self.scheduler.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"SCHEDULER {self.scheduler.text}: no Dask scheduler answered within "
                             f"{CONNECT_TIMEOUT_S:g} s ({first_line(exc)}); start one (dask scheduler) or correct "
                             "the address") from exc
        with client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"SCHEDULER {self.scheduler.text}: no worker joined the scheduler within "
                                 f"{CONNECT_TIMEOUT_S:g} s; start workers (dask worker {self.scheduler.text})") from exc
            self._check(client, reporter, resources)
            yield client

    def _check(self, client: Client, reporter: Reporter, resources: dict[str, float]) -> None:
        """InputError naming every worker that does not run the client's versions, or when no
        worker offers ``resources``."""
        wanted = environment_versions()
        problems = []
        for worker, answer in sorted(client.run(environment_versions, on_error="return").items()):
            if isinstance(answer, BaseException):
                problems.append(f"{worker} cannot run EuroMine ({type(answer).__name__}: {first_line(answer)})")
            elif answer != wanted:
                problems.append(f"{worker} has " + ", ".join(f"{k} {answer.get(k)} (here {v})"
                                                             for k, v in wanted.items() if answer.get(k) != v))
        if problems:
            raise InputError(f"SCHEDULER {self.scheduler.text}: the workers must run what this client runs "
                             f"(euromine {wanted['euromine']}, distributed {wanted['distributed']}, Python "
                             f"{wanted['python']}): " + "; ".join(problems))
        if resources:
            offered = client.run_on_scheduler(_resources_offered)
            if not any(offered.get(name, 0) >= need for name, need in resources.items()):
                raise InputError(f"SCHEDULER {self.scheduler.text}: the model runs on a GPU but no worker offers "
                                 "the GPU resource; start the GPU workers with --resources GPU=1")
        assert client.scheduler is not None  # connected
        reporter.info(f"Dask: {len(client.scheduler_info()['workers'])} worker(s) at {client.scheduler.address}, "
                      f"euromine {wanted['euromine']}")


def intra_op_share(client: Client) -> int:
    """onnxruntime threads per task: the smallest share of a host's cores among the connected
    workers (cores / the worker threads on that host, at least 1), so that no host runs more
    onnxruntime threads than it has cores."""
    from ..engine.hardware import usable_cores

    cores = client.run(usable_cores)
    workers = client.scheduler_info()["workers"]
    threads_on = Counter[str]()
    for info in workers.values():
        threads_on[info["host"]] += info["nthreads"]
    return min(max(1, (cores.get(address) or 1) // threads_on[info["host"]]) for address, info in workers.items())


def _prepare(client: Client, spec: ModelSpec, resources: dict[str, float], modules: set[str]) -> int:
    """Every connected worker that offers ``resources`` imports ``modules`` and opens the model,
    all at the same time (one task meant for each; one whose worker died runs on another, where it
    finds the model open); the number of workers prepared. A worker that joins later does both in
    its first task."""
    workers = [address for address, info in client.scheduler_info()["workers"].items()
               if all(info.get("resources", {}).get(name, 0) >= need for name, need in resources.items())]
    futures = [client.submit(_prepare_worker, spec, sorted(modules), key=f"euromine-prepare-{uuid.uuid4().hex[:8]}",
                             workers=[address], allow_other_workers=True, resources=resources or None, pure=False)
               for address in workers]
    try:
        for future in futures:
            future.result()
    finally:
        client.cancel(futures)
    return len(workers)


def _prepare_worker(spec: ModelSpec, modules: list[str]) -> None:
    """On a worker: the tasks' modules imported and the model opened (ModelSpec.open's cache)."""
    for module in modules:
        importlib.import_module(module)
    spec.open()


def _run(client: Client, tasks: Sequence[TaskT], model: ModelSpec, resources: dict[str, float], reporter: Reporter,
         finish: Callable[[TaskT, Any], None]) -> None:
    """Cluster.run once connected."""
    from distributed import Event

    event_name = f"euromine-cancel-{uuid.uuid4().hex}"
    futures = {client.submit(_run_task, task, model, event_name, key=f"euromine-{n}-{uuid.uuid4().hex[:8]}",
                             resources=resources or None, pure=False): task
               for n, task in enumerate(tasks)}
    order = {future: n for n, future in enumerate(futures)}
    pending = set(futures)
    try:
        while pending:
            reporter.check()
            done, pending = _finished(pending, CANCEL_POLL_S)
            for future in sorted(done, key=order.__getitem__):
                task = futures[future]
                result, lines, error = future.result()
                replay(lines, reporter, f"[{task.label}] ")
                if error is not None:
                    raise error
                finish(task, result)
                reporter.progress(100.0 * (len(futures) - len(pending)) / len(futures))
    except BaseException:
        Event(event_name, client=client).set()
        _stop(pending, CANCEL_WAIT_S)
        raise
    finally:
        client.cancel(list(futures))


LogLines = list[tuple[str, str]]  # ("info" or "warning", text), in the order a task reported them


def recording_reporter(is_canceled: Callable[[], bool]) -> tuple[Reporter, LogLines]:
    """A reporter for a task on a worker that records its log lines and warnings (progress is not
    sent back), and the list it records them in."""
    lines: LogLines = []
    reporter = Reporter(info=lambda text: lines.append(("info", text)),
                        warning=lambda text: lines.append(("warning", text)), is_canceled=is_canceled)
    return reporter, lines


def replay(lines: LogLines, reporter: Reporter, prefix: str) -> None:
    """A task's recorded lines passed on to ``reporter`` in order, each after ``prefix``."""
    for kind, text in lines:
        if kind == "warning":
            reporter.warn(prefix + text)
        else:
            reporter.info(prefix + text)


def _run_task(task: Task, model: ModelSpec, event_name: str) -> tuple[Any, LogLines, EuroMineError | None]:
    """On a worker: the task with the worker's copy of the model, the lines it reported and the
    engine's error that stopped it, if one did: returned, not raised, so that the lines logged
    before the error reach the client too, which raises it after replaying them."""
    reporter, lines = recording_reporter(_cancel_poller(event_name))
    try:
        return task(model.open(), reporter), lines, None
    except EuroMineError as exc:
        return None, lines, exc


def _finished(futures: set[Future[Any]], timeout: float) -> tuple[set[Future[Any]], set[Future[Any]]]:
    """The futures done within ``timeout`` (at least one, or none when time is up) and the others."""
    from distributed import wait

    try:
        done, pending = wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), futures
    return set(done), set(pending)


def _stop(futures: set[Future[Any]], timeout: float) -> None:
    """Wait for ``futures`` (told to stop) to end, so that none is still writing afterwards."""
    deadline = time.monotonic() + timeout
    while futures and time.monotonic() < deadline:
        _, futures = _finished(futures, CANCEL_POLL_S)


def _resources_offered(dask_scheduler: DaskScheduler) -> dict[str, float]:
    """The most of each resource one worker offers (run on the scheduler)."""
    offered: dict[str, float] = {}
    for worker in dask_scheduler.workers.values():
        for name, amount in worker.resources.items():
            offered[name] = max(offered.get(name, 0), amount)
    return offered


def _cancel_poller(event_name: str) -> Callable[[], bool]:
    """is_canceled for a task's Reporter: whether the run's Event is set, asked at most every CANCEL_POLL_S."""
    from distributed import Event

    event, state = Event(event_name), {"at": 0.0, "set": False}

    def is_canceled() -> bool:
        now = time.monotonic()
        if not state["set"] and now - state["at"] >= CANCEL_POLL_S:
            state["at"], state["set"] = now, event.is_set()
        return bool(state["set"])

    return is_canceled
