"""`make bench`: euromine:mapsites' engine (core.batch.sites.map_sites) here and on a Dask
LocalCluster (SCHEDULER=local:2: 2 worker processes of 1 thread each), over the same generated
sites. Here is one process whose onnxruntime runs 2 intra-op threads. Each runs twice, interleaved,
and the faster run counts; the CPU seconds per site (this process and the worker processes) are
printed beside, since on a shared machine the wall clock follows the neighbours' load. The cluster's start-up (Dask's
import, the worker processes, their imports, the version check and each worker opening the model)
is timed apart, as its "ready in N s" log line says; sites per minute of each exclude it, and their ratio is asserted
at no less than MIN_RATIO. docs/performance.md and docs/user-guide/clusters.md quote these figures.

Generated sites: 24 sites of 256 x 256 pixels, 10 years (2015-2024), spectral_baseline on CPU.
Run: ``.venv/bin/python -m pytest -q -s -p no:cacheprovider tests/bench/test_bench_dask.py``
"""
from __future__ import annotations

import re
import resource
import time
from pathlib import Path

import psutil
import pytest

from euromine_qgis.core.batch.site_sources import sites_from_folder
from euromine_qgis.core.batch.sites import map_sites
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.executor import LOCAL, Executor
from euromine_qgis.core.progress import Reporter
from export.synthetic import generate_sites
from tests.bench.test_bench_deepness import cpu_flags, cpu_name
from tests.plain_run import site_options

pytest.importorskip("distributed")

N_SITES, SIZE, YEARS = 24, (256, 256), tuple(range(2015, 2025))
WORKERS = 2
MIN_RATIO = 0.85
ROUNDS = 2


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its ended children (the cluster's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed_run(sites, model, out: Path, executor: Executor) -> tuple[float, float, float]:
    """Seconds of the whole map_sites call, the cluster's start-up as its "ready in N s" log line
    says (from Cluster.run's start: Dask's import, the processes, the check, the model opened; 0
    here), and the CPU seconds of the run, start-up excluded."""
    ready: list[float] = []
    cpu_at_ready: list[float] = []

    def info(text: str) -> None:
        if found := re.match(r"Dask: \d+ worker\(s\) ready in ([\d.]+) s", text):
            ready.append(float(found[1]))
            workers = psutil.Process().children(recursive=True)
            cpu_at_ready.append(_cpu_seconds() - cpu_started + sum(sum(w.cpu_times()[:2]) for w in workers))

    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    map_sites(sites, model, out, site_options(site_reports=False), Reporter(info=info), executor)
    wall = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started - (cpu_at_ready[0] if cpu_at_ready else 0.0)
    return wall, (ready[0] if ready else 0.0), cpu


def test_bench_sites_per_minute_here_and_on_a_local_cluster(tmp_path):
    from euromine_qgis.core.batch.distributed import Cluster, parse_scheduler

    generate_sites(tmp_path / "sites", N_SITES, seed=4242, size=SIZE, years=YEARS)
    sites = sites_from_folder(tmp_path / "sites", "all", None)
    model = Model(resolve_bundled("spectral_baseline"), "cpu", scale=1.0, intra_op_threads=WORKERS)
    cluster = Cluster(parse_scheduler(f"local:{WORKERS}"))
    runs: dict[str, list[tuple[float, float, float]]] = {"here": [], "cluster": []}
    for n in range(ROUNDS):  # interleaved, so that a busy spell of a shared machine hits both
        runs["here"].append(_timed_run(sites, model, tmp_path / f"here{n}", LOCAL))
        runs["cluster"].append(_timed_run(sites, model, tmp_path / f"cluster{n}", cluster))
    here_wall, _, here_cpu = min(runs["here"])
    total, startup, cluster_cpu = min(runs["cluster"], key=lambda run: run[0] - run[1])
    assert startup > 0, "the cluster logged no ready line"
    here_rate, cluster_rate = 60.0 * N_SITES / here_wall, 60.0 * N_SITES / (total - startup)
    ratio = cluster_rate / here_rate
    print(f"\nmapsites, {N_SITES} generated sites of {SIZE[0]}x{SIZE[1]} px x {len(YEARS)} years, spectral_baseline, "
          f"CPU: {cpu_name()}; {cpu_flags()}; the faster "
          f"of {ROUNDS} interleaved runs each")
    print(f"  here (1 process, {WORKERS} intra-op threads): {here_rate:6.1f} sites/min "
          f"({here_wall / N_SITES:.2f} s/site, {here_cpu / N_SITES:.2f} CPU s/site)")
    print(f"  LocalCluster, {WORKERS} workers x 1 thread:  {cluster_rate:6.1f} sites/min "
          f"({(total - startup) / N_SITES:.2f} s/site, {cluster_cpu / N_SITES:.2f} CPU s/site), start-up excluded")
    print(f"  cluster start-up:                   {startup:6.2f} s (Dask's import, processes, their imports, version "
          "check, model opened)")
    print(f"  per-site overhead:                  {(total - startup - here_wall) / N_SITES:+6.2f} s/site, "
          f"{(cluster_cpu - here_cpu) / N_SITES:+.2f} CPU s/site")
    print(f"  cluster / here:                     {ratio:6.2f}× sites/min (target >= {MIN_RATIO}), "
          f"{here_cpu / cluster_cpu:.2f}× CPU per site")
    assert ratio >= MIN_RATIO
