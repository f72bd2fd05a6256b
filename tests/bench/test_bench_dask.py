"""`make bench`: sites per minute of euromine:mapsites' engine (core.batch.sites.map_sites) run
here and on a LocalCluster of 2 worker processes (1 thread each), and the per-task overhead. On a
2-core machine the cluster cannot be faster: its figure is the cost of the scheduler, the worker
processes and one model load per worker. docs/user-guide/clusters.md quotes these figures.

Generated sites: 8 sites of 256 x 256 pixels, 10 years (2015-2024), spectral_baseline on CPU.
Run: ``.venv/bin/python -m pytest -q -s -p no:cacheprovider tests/bench/test_bench_dask.py``
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from euromine_qgis.core.batch.site_sources import sites_from_folder
from euromine_qgis.core.batch.sites import map_sites
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.executor import LOCAL, Executor
from export.synthetic import generate_sites
from tests.plain_run import site_options

pytest.importorskip("distributed")

N_SITES, SIZE, YEARS = 8, (256, 256), tuple(range(2015, 2025))


def _sites_per_minute(sites, model, out: Path, executor: Executor = LOCAL) -> float:
    started = time.perf_counter()
    map_sites(sites, model, out, site_options(site_reports=False), executor=executor)
    return 60.0 * len(sites) / (time.perf_counter() - started)


def test_bench_sites_per_minute_here_and_on_a_local_cluster(tmp_path):
    from euromine_qgis.core.batch.distributed import Cluster, parse_scheduler

    generate_sites(tmp_path / "sites", N_SITES, seed=4242, size=SIZE, years=YEARS)
    sites = sites_from_folder(tmp_path / "sites", "all", None)
    path = resolve_bundled("spectral_baseline")
    model = Model(path, "cpu", scale=1.0)
    here = _sites_per_minute(sites, model, tmp_path / "here")
    cluster = Cluster(parse_scheduler("local:2"))
    on_cluster = _sites_per_minute(sites, model, tmp_path / "cluster", cluster)
    overhead = 60.0 / on_cluster - 60.0 / here  # seconds per site (task) more than here, start-up included
    print(f"\nmapsites, {N_SITES} generated sites of {SIZE[0]}x{SIZE[1]} px x {len(YEARS)} years, "
          "spectral_baseline, CPU")
    print(f"  here:                         {here:6.1f} sites/min ({60.0 / here:.2f} s/site)")
    print(f"  LocalCluster, 2 workers x 1:  {on_cluster:6.1f} sites/min ({60.0 / on_cluster:.2f} s/site)")
    print(f"  per-task overhead:            {overhead:+.2f} s/site (cluster start, model load per worker, scheduling)")
    assert here > 0 and on_cluster > 0
