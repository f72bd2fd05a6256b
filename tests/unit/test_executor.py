"""Runs check their inputs once, on the client, whatever runs their tasks: a bad value gives the
same error, type and message, with the local executor, with a Dask cluster (whose scheduler is
never reached, because the checks come first) and in the pre-run check (DRY_RUN). A task's log
lines and warnings reach the client's log, whether it fails or succeeds, and a cluster's workers
run onnxruntime on their share of the cores."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import pytest

from euromine_qgis.core.batch.distributed import Cluster, parse_scheduler
from euromine_qgis.core.batch.site_sources import folder_site
from euromine_qgis.core.batch.sites import map_sites
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import InputError
from euromine_qgis.core.executor import LOCAL
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.maps.preflight import check_run
from euromine_qgis.core.progress import Reporter
from tests.plain_run import PLAIN_FOOTPRINTS, site_options

# a port nothing listens on: a run that tried to connect would fail with "no Dask scheduler answered"
UNREACHABLE = "tcp://127.0.0.1:9"


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0)


@pytest.fixture(scope="module")
def cluster(model) -> Cluster:
    return Cluster(parse_scheduler(UNREACHABLE))


def _error(run) -> tuple[type, str]:
    """The type and message of the error ``run()`` raises."""
    with pytest.raises(Exception) as raised:
        run()
    return type(raised.value), str(raised.value)


BAD_FOOTPRINTS = {
    "THRESHOLD": ({"threshold": 1.5}, "THRESHOLD 1.5 must lie strictly between 0 and 1"),
    "MIN_AREA_HA": ({"min_area_ha": -1.0}, "MIN_AREA_HA -1.0 must be"),
    "TEMPORAL_FILTER": ({"temporal_filter": "smooth4"}, "TEMPORAL_FILTER 'smooth4' is not one of"),
    "probabilities": ({"probabilities": "int16"}, "probabilities must be one of uint8, float32, not 'int16'"),
    "TILE_OVERLAP": ({"settings": TileSettings(tile=64, overlap=64, batch_size=0)}, "overlap of 64 px leaves no room"),
}


@pytest.mark.parametrize("bad", BAD_FOOTPRINTS)
def test_map_footprints_gives_the_same_error_on_every_path(bad, model, cluster, sites, tmp_path):
    bad_keywords, message = BAD_FOOTPRINTS[bad]
    keywords = {**PLAIN_FOOTPRINTS, **bad_keywords}
    images = [(2015, sites[1] / "image" / "Year2015.tif"), (2016, sites[1] / "image" / "Year2016.tif")]
    local = _error(lambda: map_footprints(images, model, tmp_path / "local", executor=LOCAL, **keywords))
    on_cluster = _error(lambda: map_footprints(images, model, tmp_path / "cluster", executor=cluster, **keywords))
    assert local == on_cluster and message in local[1]
    assert _error(lambda: check_run(images, model, **keywords)) == local


def test_years_on_different_grids_are_refused_before_any_task(model, cluster, sites, tmp_path):
    images = [(2015, sites[0] / "image" / "Year2015.tif"), (2016, sites[1] / "image" / "Year2016.tif")]
    keywords = {**PLAIN_FOOTPRINTS, "temporal_filter": "smooth3"}
    local = _error(lambda: map_footprints(images, model, tmp_path / "local", **keywords))
    on_cluster = _error(lambda: map_footprints(images, model, tmp_path / "cluster", executor=cluster, **keywords))
    assert local == on_cluster and "lie on different grids" in local[1]
    assert not list(tmp_path.rglob("*.tif"))


@pytest.mark.parametrize("options", [site_options(threshold=0.0), site_options(min_area_ha=-2.0),
                                     site_options(temporal_filter="smooth4"), site_options(pairs="2015-2030")],
                         ids=["THRESHOLD", "MIN_AREA_HA", "TEMPORAL_FILTER", "PAIRS"])
def test_map_sites_gives_the_same_error_on_every_path(options, model, cluster, sites, tmp_path):
    inputs = [folder_site(s, [2015, 2016]) for s in sites[:2]]
    local = _error(lambda: map_sites(inputs, model, tmp_path / "local", options, Reporter(), LOCAL))
    on_cluster = _error(lambda: map_sites(inputs, model, tmp_path / "cluster", options, Reporter(), cluster))
    assert local == on_cluster
    assert "Dask" not in local[1] and "SCHEDULER" not in local[1]
    assert not [p for p in (tmp_path / "cluster").rglob("*") if p.name != ".euromine.lock"]


def _log() -> tuple[Reporter, list[str]]:
    """A reporter that records its lines, warnings prefixed, and the list it records them in."""
    lines: list[str] = []
    return Reporter(info=lines.append, warning=lambda text: lines.append("warning: " + text)), lines


WARNING = "the first year's values are about 10000 times smaller than the model expects"


@dataclass(frozen=True)
class LoggingTask:
    """A task that logs a line and WARNING, then fails with the engine's error for bad input
    (``fails``) or succeeds with the onnxruntime threads its model runs."""

    label: str = "task"
    fails: bool = False

    def __call__(self, model: Model, reporter: Reporter) -> int:
        reporter.info("read the first year")
        reporter.warn(WARNING)
        if self.fails:
            raise InputError("the second year is not a readable raster")
        return model.session.get_session_options().intra_op_num_threads


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs Dask distributed")
@pytest.mark.parametrize("executor", ["local", "cluster"])
def test_a_failed_task_reports_its_lines_before_its_error(executor, model):
    """The lines a task logged before it failed reach the log on every path, then its error."""
    reporter, lines = _log()
    where = LOCAL if executor == "local" else Cluster(parse_scheduler("local:1"))
    with pytest.raises(InputError, match="not a readable raster"):
        where.run([LoggingTask("failing", fails=True)], model, reporter, lambda _task, _result: None)
    logged = [line.replace("[failing] ", "") for line in lines if "year" in line]  # a cluster prefixes its label
    assert logged == ["read the first year", f"warning: {WARNING}"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs Dask distributed")
@pytest.mark.parametrize("executor", ["local", "cluster"])
def test_a_successful_tasks_lines_reach_the_log(executor, model):
    """The lines and warnings of a task that succeeds reach the log on every path (a cluster's
    prefixed with the task's label), in order, and its result reaches finish."""
    reporter, lines = _log()
    results: list[int] = []
    where = LOCAL if executor == "local" else Cluster(parse_scheduler("local:1"))
    where.run([LoggingTask("warning")], model, reporter, lambda _task, result: results.append(result))
    prefix = "[warning] " if executor == "cluster" else ""
    assert [line for line in lines if "first year" in line] == [f"{prefix}read the first year",
                                                                f"warning: {prefix}{WARNING}"]
    assert len(results) == 1


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs Dask distributed")
def test_cluster_workers_share_the_cores_and_open_the_model_before_the_tasks(model):
    """On local:2 each worker's onnxruntime runs on half the cores (not a thread per core in each),
    and the log says when the workers were ready, with the model opened."""
    from euromine_qgis.core.engine.hardware import usable_cores

    reporter, lines = _log()
    results: list[int] = []
    tasks = [LoggingTask(f"task {n}") for n in range(4)]
    Cluster(parse_scheduler("local:2")).run(tasks, model, reporter, lambda _task, result: results.append(result))
    assert results == [max(1, usable_cores() // 2)] * 4
    ready = [line for line in lines if line.startswith("Dask: 2 worker(s) ready in ")]
    assert ready and f"{model.path.name} opened with {results[0]} onnxruntime thread(s) each" in ready[0]
    assert lines.index(ready[0]) < lines.index("[task 0] read the first year")
