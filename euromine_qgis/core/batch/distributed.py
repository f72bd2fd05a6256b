"""Sites (mapsites) and years (mapfootprints) as tasks of a Dask distributed cluster.

Dask's scheduler does the scheduling; this module only says what a task is and what the client
keeps for itself. A worker opens each model once (cached per worker process by the model file's
sha256, device, normalization and SCALE) and writes through the engine's own atomic writes into
hidden staging folders of the shared output folder. The client alone moves finished outputs
under their names, writes every site's manifest and the summary, so a resumed run reads exactly
what a local run would have left.

A worker that dies while it runs a task leaves at most a staging folder: the scheduler runs the
task again on another worker and the client removes the dead one's staging folder at the end.
Cancellation goes to the running tasks through a Dask Event that their reporter polls at tile
granularity, so each stops at its next tile and removes its own staging folder.

Dask is imported only here, and this module only when a scheduler is given.
"""
from __future__ import annotations

import configparser
import platform
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.contract import NormalizationOverride
from ..errors import InputError, ModelError, first_line
from ..io.checksum import sha256_of
from ..io.folder_lock import folder_lock
from ..io.outputs import check_not_inputs, check_output_folder
from ..progress import Reporter
from .sites import SiteJob, SiteOptions, commit_site, remove_leftovers, stage_site

if TYPE_CHECKING:
    from distributed import Client, Future

    from ..engine.inference import TileSettings
    from ..engine.model import Model
    from ..engine.scaling import ImageInput
    from ..maps.footprints import YearFootprint

CONNECT_TIMEOUT_S = 10.0  # an unreachable scheduler (or one without workers) is an error after this long
CANCEL_POLL_S = 0.5  # how often a running task asks the scheduler whether the run was cancelled
CANCEL_WAIT_S = 120.0  # how long a cancelled run waits for its running tasks to stop at their next tile
GPU_DEVICES = ("cuda", "tensorrt")
SCHEDULER_FORMS = "tcp://HOST:PORT (a running Dask scheduler) or local:N (N local worker processes)"


@dataclass(frozen=True)
class ModelSpec:
    """Which model a worker opens and how: plain values that travel to the workers."""

    path: Path
    sha256: str
    device: str = "auto"
    override: NormalizationOverride | None = None
    scale: float = 1.0

    @classmethod
    def of(cls, path: Path, device: str = "auto", override: NormalizationOverride | None = None,
           scale: float = 1.0) -> ModelSpec:
        """The spec of the model file ``path`` (its sha256 read here, on the client)."""
        return cls(Path(path), sha256_of(path), device, override, scale)

    @classmethod
    def of_model(cls, model: Model, device: str) -> ModelSpec:
        """The spec of ``model`` as the client opened it: its file on ``device`` with the bands and
        normalization it runs with (BANDS/MEAN/STD overrides and SCALE already folded in)."""
        info = model.info
        return cls.of(model.path, device, NormalizationOverride(tuple(info.bands), tuple(info.mean), tuple(info.std)))

    def resources(self, model: Model) -> dict[str, float]:
        """Dask worker resources a task of this model holds: one GPU when it runs on a GPU (DEVICE
        cuda or tensorrt, or the client's own model landed on one), so a GPU runs one task at a time."""
        from ..engine.devices import GPU_PROVIDERS

        return {"GPU": 1} if self.device in GPU_DEVICES or model.provider in GPU_PROVIDERS else {}

    def open(self) -> Model:
        """The model in this process, opened once per process: the file must be the one the client read."""
        key = (self.sha256, self.device, self.override, self.scale)
        if key not in _MODELS:
            from ..engine.model import Model

            found = sha256_of(self.path) if self.path.is_file() else "no file"
            if found != self.sha256:
                raise ModelError(f"{self.path} on worker host {socket.gethostname()}: not the model file the run "
                                 f"was started with (sha256 {found}, expected {self.sha256}); every worker must "
                                 "see the same files")
            _MODELS[key] = Model(self.path, device=self.device, override=self.override, scale=self.scale)
        return _MODELS[key]


_MODELS: dict[tuple, Model] = {}  # one per worker process: ModelSpec.open


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

    return {"euromine": project_version(), "distributed": distributed.__version__,
            "python": ".".join(platform.python_version_tuple()[:2])}


@dataclass
class Cluster:
    """A run's tasks on Dask: the scheduler, the model every task opens, and the client's model
    (the one the client checked the inputs with, for the GPU resource)."""

    scheduler: Scheduler
    model: ModelSpec
    client_model: Model
    _client: Client | None = field(default=None, repr=False)

    @contextmanager
    def connected(self, reporter: Reporter) -> Iterator[Cluster]:
        """Inside: connected to the scheduler (or a started LocalCluster) whose workers run this
        EuroMine version; InputError within CONNECT_TIMEOUT_S when none answers."""
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise InputError(f"SCHEDULER {self.scheduler.text}: Dask distributed is not installed here "
                             f"({first_line(exc)}); install it with pip install 'euromine[dask]'") from exc

        if self.scheduler.address is None:
            reporter.info(f"Dask: starting a LocalCluster of {self.scheduler.local_workers} worker process(es)")
            # on a GPU each local worker offers the GPU resource the tasks ask for (they share the GPU)
            with LocalCluster(n_workers=self.scheduler.local_workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, resources=self.model.resources(self.client_model) or None
                              ) as local, Client(local) as client:
                yield self._checked(client, reporter)
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
            yield self._checked(client, reporter)

    def _checked(self, client: Client, reporter: Reporter) -> Cluster:
        """This cluster with ``client``, once every worker runs the client's versions (InputError naming any that does not)."""
        wanted = environment_versions()
        problems = []
        for worker, answer in sorted(client.run(environment_versions, on_error="return").items()):
            if isinstance(answer, BaseException):
                problems.append(f"{worker} cannot run EuroMine ({type(answer).__name__}: {first_line(answer)})")
            elif answer != wanted:
                problems.append(f"{worker} has " + ", ".join(f"{k} {answer.get(k)} (here {v})" for k, v in wanted.items()
                                                             if answer.get(k) != v))
        if problems:
            raise InputError(f"SCHEDULER {self.scheduler.text}: the workers must run what this client runs "
                             f"(euromine {wanted['euromine']}, distributed {wanted['distributed']}, Python "
                             f"{wanted['python']}): " + "; ".join(problems))
        resources = self.model.resources(self.client_model)
        if resources:
            offered = client.run_on_scheduler(_resources_offered)
            if not any(offered.get(name, 0) >= need for name, need in resources.items()):
                raise InputError(f"SCHEDULER {self.scheduler.text}: the model runs on a GPU but no worker offers "
                                 "the GPU resource; start the GPU workers with --resources GPU=1")
        reporter.info(f"Dask: {len(client.scheduler_info()['workers'])} worker(s) at {client.scheduler.address}, "
                      f"euromine {wanted['euromine']}")
        return replace(self, _client=client)

    def map_sites(self, jobs: Sequence[SiteJob], options: SiteOptions,
                  reporter: Reporter) -> Iterator[tuple[SiteJob, dict]]:
        """Every job mapped by a task; each site is committed (manifest, rename) here as its task
        finishes, and yielded with its record. Leftovers of failed or killed tasks are removed."""
        with self.connected(reporter) as cluster:
            try:
                yield from cluster._run(jobs, _map_site_task, lambda job, event: (
                    job.site, cluster.model, job.target, options, event), reporter, _commit_site_result)
            finally:
                for job in jobs:
                    remove_leftovers(job.target)

    def _run(self, items: Sequence, task: Callable, arguments: Callable, reporter: Reporter,
             finish: Callable) -> Iterator:
        """Submit ``task(*arguments(item, event))`` for every item, ``finish(item, result)`` each as
        it completes (yielding the item and what finish returns); on cancellation or a failed task the
        running tasks are told to stop (the Event) and waited for before the error is raised."""
        from distributed import Event

        client = self._client
        event_name = f"euromine-cancel-{uuid.uuid4().hex}"
        futures = {client.submit(task, *arguments(item, event_name), key=f"euromine-{n}-{uuid.uuid4().hex[:8]}",
                                 resources=self.model.resources(self.client_model) or None, pure=False): item
                   for n, item in enumerate(items)}
        order = {future: n for n, future in enumerate(futures)}
        pending = set(futures)
        try:
            while pending:
                reporter.check()
                done, pending = _finished(pending, CANCEL_POLL_S)
                for future in sorted(done, key=order.get):
                    item = futures[future]
                    yield item, finish(item, future.result())
                    reporter.progress(100.0 * (len(futures) - len(pending)) / len(futures))
        except BaseException:
            Event(event_name, client=client).set()
            _stop(pending, CANCEL_WAIT_S)
            raise
        finally:
            client.cancel(list(futures))


def _finished(futures: set[Future], timeout: float) -> tuple[set[Future], set[Future]]:
    """The futures done within ``timeout`` (at least one, or none when time is up) and the others."""
    from distributed import wait

    try:
        done, pending = wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), futures
    return set(done), set(pending)


def _stop(futures: set[Future], timeout: float) -> None:
    """Wait for ``futures`` (told to stop) to end, so that none is still writing afterwards."""
    deadline = time.monotonic() + timeout
    while futures and time.monotonic() < deadline:
        _, futures = _finished(futures, CANCEL_POLL_S)


def _resources_offered(dask_scheduler) -> dict[str, float]:
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
        return state["set"]

    return is_canceled


def _map_site_task(site, model: ModelSpec, target: Path, options: SiteOptions, event_name: str) -> tuple[Path, dict]:
    """On a worker: one site mapped into its staging folder (sites.stage_site)."""
    return stage_site(site, model.open(), target, options, Reporter(is_canceled=_cancel_poller(event_name)))


def _commit_site_result(job: SiteJob, result: tuple[Path, dict]) -> dict:
    staging, record = result
    commit_site(staging, job, record)
    return record


# mapfootprints: years as tasks ------------------------------------------------------------------

@dataclass(frozen=True)
class FootprintJob:
    """Years mapped by one task into a staging folder of the output folder."""

    images: tuple[tuple[int, Path], ...]
    staging: Path


def map_footprints_on_cluster(cluster: Cluster, images: Sequence[tuple[int, Path]], out_dir: Path,
                              threshold: float = 0.5, settings: TileSettings | None = None,
                              reporter: Reporter = Reporter(), probabilities: str | None = None,
                              temporal_filter: str = "none", min_area_ha: float = 0.0,
                              image_input: ImageInput | None = None) -> list[YearFootprint]:
    """maps.footprints.map_footprints with its years as tasks of ``cluster``: the same files in
    ``out_dir``. Years that depend on each other (a temporal filter, a series model) are one task."""
    from ..engine.inference import TileSettings
    from ..engine.scaling import ImageInput
    from ..maps.footprints import check_images, year_targets
    from ..maps.temporal_filter import filter_width

    settings, image_input = settings or TileSettings(), image_input or ImageInput()
    check_images(images, cluster.client_model, image_input.bands)
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    targets = {year: year_targets(out_dir, year, probabilities) for year, _ in images}
    check_not_inputs([p for t in targets.values() for p in t.paths], [p for _, p in images],
                     "choose another OUTPUT_FOLDER", "an input image")
    together = filter_width(temporal_filter) > 1 or cluster.client_model.info.series
    groups = [tuple(images)] if together else [((year, path),) for year, path in images]
    jobs = [FootprintJob(g, out_dir / f".years-{g[0][0]}-{uuid.uuid4().hex[:8]}") for g in groups]
    keywords = {"threshold": threshold, "settings": settings, "probabilities": probabilities,
                "temporal_filter": temporal_filter, "min_area_ha": min_area_ha, "image_input": image_input}
    results: dict[int, YearFootprint] = {}
    with folder_lock(out_dir, "mapfootprints", reporter), cluster.connected(reporter) as connected:
        try:
            for job, mapped in connected._run(jobs, _map_years_task, lambda job, event: (
                    job, connected.model, keywords, event), reporter, _move_years(targets)):
                reporter.info("Mapped " + ", ".join(str(m.year) for m in mapped))
                results.update({m.year: m for m in mapped})
        finally:
            for job in jobs:
                shutil.rmtree(job.staging, ignore_errors=True)
    return [results[year] for year, _ in images]


def _map_years_task(job: FootprintJob, model: ModelSpec, keywords: dict, event_name: str) -> list[YearFootprint]:
    """On a worker: the job's years mapped into its staging folder (removed again when mapping fails)."""
    from ..maps.footprints import map_footprints

    try:
        return map_footprints(list(job.images), model.open(), job.staging,
                              reporter=Reporter(is_canceled=_cancel_poller(event_name)), **keywords)
    except BaseException:
        shutil.rmtree(job.staging, ignore_errors=True)
        raise


def _move_years(targets: dict) -> Callable[[FootprintJob, list[YearFootprint]], list[YearFootprint]]:
    """finish() of a years task: its files moved from the staging folder under their names."""
    def move(_job: FootprintJob, mapped: list[YearFootprint]) -> list[YearFootprint]:
        moved = []
        for m in mapped:
            target = targets[m.year]
            Path(m.footprint).replace(target.footprint)
            if m.probability:
                Path(m.probability).replace(target.probability)
            moved.append(replace(m, footprint=target.footprint, probability=target.probability))
        return moved

    return move

