"""`make bench`: euromine:mapsites' engine (core.batch.sites.map_sites) here and on a Dask
LocalCluster (SCHEDULER=local:2: 2 worker processes of 1 thread each), over the same generated
sites. Here is one process whose onnxruntime runs 2 intra-op threads. The cluster's start-up (the
worker processes, their imports, the version check and each worker opening the model) is timed
apart, up to its "ready" log line; sites per minute of each exclude it, and their ratio is asserted
at no less than MIN_RATIO. docs/performance.md and docs/user-guide/clusters.md quote these figures.

Generated sites: 24 sites of 256 x 256 pixels, 10 years (2015-2024), spectral_baseline on CPU.
Run: ``.venv/bin/python -m pytest -q -s -p no:cacheprovider tests/bench/test_bench_dask.py``
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from euromine_qgis.core.batch.site_sources import sites_from_folder
from euromine_qgis.core.batch.sites import map_sites
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.hardware import cpu_flags, cpu_name
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.executor import LOCAL, Executor
from euromine_qgis.core.progress import Reporter
from export.synthetic import generate_sites
from tests.plain_run import site_options

pytest.importorskip("distributed")

N_SITES, SIZE, YEARS = 24, (256, 256), tuple(range(2015, 2025))
WORKERS = 2
MIN_RATIO = 0.85


def _timed_run(sites, model, out: Path, executor: Executor) -> tuple[float, float]:
    """Seconds of the whole map_sites call, and when the cluster said it was ready (0 here)."""
    ready: list[float] = []
    started = time.perf_counter()

    def info(text: str) -> None:
        if text.startswith("Dask: ") and " ready " in text:
            ready.append(time.perf_counter() - started)

    map_sites(sites, model, out, site_options(site_reports=False), Reporter(info=info), executor)
    return time.perf_counter() - started, (ready[0] if ready else 0.0)


def test_bench_sites_per_minute_here_and_on_a_local_cluster(tmp_path):
    from euromine_qgis.core.batch.distributed import Cluster, parse_scheduler

    generate_sites(tmp_path / "sites", N_SITES, seed=4242, size=SIZE, years=YEARS)
    sites = sites_from_folder(tmp_path / "sites", "all", None)
    model = Model(resolve_bundled("spectral_baseline"), "cpu", scale=1.0, intra_op_threads=WORKERS)
    here, _ = _timed_run(sites, model, tmp_path / "here", LOCAL)
    total, startup = _timed_run(sites, model, tmp_path / "cluster", Cluster(parse_scheduler(f"local:{WORKERS}")))
    assert startup > 0, "the cluster logged no ready line"
    here_rate, cluster_rate = 60.0 * N_SITES / here, 60.0 * N_SITES / (total - startup)
    ratio = cluster_rate / here_rate
    print(f"\nmapsites, {N_SITES} generated sites of {SIZE[0]}x{SIZE[1]} px x {len(YEARS)} years, spectral_baseline, "
          f"CPU: {cpu_name()}, {os.cpu_count()} cores, flags {' '.join(cpu_flags()) or 'none listed'}")
    print(f"  here (1 process, {WORKERS} intra-op threads): {here_rate:6.1f} sites/min ({here / N_SITES:.2f} s/site)")
    print(f"  LocalCluster, {WORKERS} workers x 1 thread:  {cluster_rate:6.1f} sites/min "
          f"({(total - startup) / N_SITES:.2f} s/site), start-up excluded")
    print(f"  cluster start-up:                   {startup:6.2f} s (processes, imports, version check, model opened)")
    print(f"  per-site overhead:                  {(total - startup - here) / N_SITES:+6.2f} s/site")
    print(f"  cluster / here:                     {ratio:6.2f}× (target >= {MIN_RATIO})")
    assert ratio >= MIN_RATIO
