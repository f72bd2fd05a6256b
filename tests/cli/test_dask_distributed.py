"""`euromine mapsites` and `mapfootprints` with --scheduler on real Dask clusters of worker
processes (a LocalCluster started by the command, or a scheduler and `dask worker` processes
started here): byte-identical outputs to a local run, also when a worker is killed in the middle
of a site; an unreachable scheduler, workers without EuroMine or with another version, and Ctrl-C.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.cli.conftest import REPO, Euromine

pytest.importorskip("distributed")

SITE_ARGS = ("--device", "cpu", "--no-site-reports", "--years", "2015-2017")


@pytest.fixture(scope="module")
def small_sites(tmp_path_factory) -> Path:
    """Four generated sites, 160 x 160 pixels, three years: a few seconds of work per worker."""
    from export.synthetic import generate_sites

    folder = tmp_path_factory.mktemp("dask") / "sites"
    generate_sites(folder, 4, seed=11, size=(160, 160), years=(2015, 2016, 2017))
    return folder


@pytest.fixture(scope="module")
def local_run(euromine_qgis_env: Euromine, small_sites: Path, tmp_path_factory) -> Path:
    """The sites mapped without a scheduler: what every cluster run must reproduce byte for byte."""
    out = tmp_path_factory.mktemp("local") / "out"
    result = euromine_qgis_env.run("mapsites", "--sites-folder", small_sites, *SITE_ARGS, "--output-folder", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) by its relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_outputs(local: Path, cluster: Path) -> None:
    """The same files with the same bytes (manifests and summaries name files relative to their folder)."""
    expected, found = files_under(local), files_under(cluster)
    assert sorted(found) == sorted(expected)
    assert [name for name in expected if found[name] != expected[name]] == []
    assert not [p for p in cluster.rglob(".*")], "hidden leftovers (staging folders, temporary files)"


def test_local2_gives_the_local_runs_bytes(euromine_qgis_env, small_sites, local_run, tmp_path):
    out = tmp_path / "out"
    result = euromine_qgis_env.run("mapsites", "--sites-folder", small_sites, *SITE_ARGS, "--output-folder", out,
                                   "--scheduler", "local:2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Dask: 2 worker(s)" in result.stderr
    assert_same_outputs(local_run, out)
    again = euromine_qgis_env.json("mapsites", "--sites-folder", small_sites, *SITE_ARGS, "--output-folder", out,
                                   "--scheduler", "local:2")
    assert again["REUSED"] == again["SITE_NAMES"] and again["MAPPED"] == []  # resume reads the client's manifests


def test_mapfootprints_years_as_tasks_give_the_local_bytes(euromine_qgis_env, small_sites, tmp_path):
    images = sorted((small_sites / "Synthetic_2" / "image").glob("Year*.tif"))
    common = ("mapfootprints", "--images", *images, "--device", "cpu", "--probabilities", "uint8",
              "--min-area-ha", "0.05")
    local = euromine_qgis_env.json(*common, "--output-folder", tmp_path / "local")
    cluster = euromine_qgis_env.json(*common, "--output-folder", tmp_path / "cluster", "--scheduler", "local:2")
    assert cluster["AREA_HA"] == local["AREA_HA"] and len(cluster["FOOTPRINTS"]) == 3
    assert_same_outputs(tmp_path / "local", tmp_path / "cluster")


def test_the_workers_warnings_reach_the_clients_log(euromine_qgis_env, tmp_path):
    """A SCALE warning raised where a site is mapped (its images are 0-1 reflectance, 10000 times
    smaller than the model expects) is on the command's log with a scheduler as without one."""
    from export.synthetic import generate_sites
    from tests.band_stacks import reflectance_copy

    (site,) = generate_sites(tmp_path / "sites", 1, seed=11, size=(160, 160), years=(2015, 2016))
    for image in sorted((site / "image").glob("Year*.tif")):
        reflectance_copy(image, image)
    args = ("mapsites", "--sites-folder", site.parent, "--device", "cpu", "--no-site-reports", "--years", "2015-2016")
    local = euromine_qgis_env.run(*args, "--output-folder", tmp_path / "local")
    cluster = euromine_qgis_env.run(*args, "--output-folder", tmp_path / "cluster", "--scheduler", "local:1")
    assert local.returncode == 0 and cluster.returncode == 0, (local.stderr + cluster.stderr)[-3000:]
    expected = [f"{site / 'image' / f'Year{year}.tif'}: its values are about 10000 times smaller"
                for year in (2015, 2016)]
    for run in (local, cluster):
        assert all(line in run.stderr for line in expected), run.stderr[-3000:]
    replayed = [line for line in cluster.stderr.splitlines() if "[Synthetic_1] " in line]
    assert [line for line in replayed if "10000 times smaller" in line] and \
        "Site 1/1 Synthetic_1: mapping (" in replayed[0], cluster.stderr[-3000:]


def _worker_writing_a_site(command: psutil.Process) -> psutil.Process | None:
    """A worker process of the command's LocalCluster that has a file of a site's staging folder open."""
    for child in command.children(recursive=True):
        try:
            if any(".partial-" in f.path for f in child.open_files()):
                return child
        except psutil.Error:
            continue
    return None


def test_a_worker_killed_in_the_middle_of_a_site(euromine_qgis_env, small_sites, local_run, tmp_path):
    out = tmp_path / "out"
    run = euromine_qgis_env.popen("mapsites", "--sites-folder", small_sites, *SITE_ARGS, "--output-folder", out,
                                  "--scheduler", "local:2")
    command, killed = psutil.Process(run.pid), None
    deadline = time.monotonic() + 120
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        worker = _worker_writing_a_site(command)
        if worker is not None:
            os.kill(worker.pid, signal.SIGKILL)  # the nanny starts a new worker; the scheduler reruns the site
            killed = worker.pid
        time.sleep(0.02)
    _, stderr = run.communicate(timeout=300)
    assert killed is not None, "no worker was caught writing a site"
    assert run.returncode == 0, stderr[-3000:]
    assert_same_outputs(local_run, out)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_exit_2_within_the_timeout(euromine_qgis_env, small_sites, tmp_path):
    from euromine_qgis.core.batch.distributed import CONNECT_TIMEOUT_S

    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    result = euromine_qgis_env.run("mapsites", "--sites-folder", small_sites, *SITE_ARGS,
                                   "--output-folder", tmp_path / "out", "--scheduler", address)
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 20  # the command's own start-up included
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"SCHEDULER {address}: no Dask scheduler answered within {CONNECT_TIMEOUT_S:g} s" in result.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name != ".euromine.lock"]


@pytest.fixture()
def scheduler():
    """A Dask scheduler without workers, in this process; yields its address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _start_worker(address: str, pythonpath: Path | None, cwd: Path) -> subprocess.Popen:
    """A `dask worker` process of this interpreter that sees EuroMine only through ``pythonpath``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                             "--no-nanny", "--no-dashboard"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _other_version(tmp_path: Path, version: str) -> Path:
    """A copy of the euromine_qgis package whose metadata.txt says ``version``."""
    root = tmp_path / "other"
    shutil.copytree(REPO / "euromine_qgis", root / "euromine_qgis", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "models_onnx", "metadata.txt"))
    text = (REPO / "metadata.txt").read_text(encoding="utf-8")
    (root / "euromine_qgis" / "metadata.txt").write_text(
        "\n".join(f"version={version}" if line.startswith("version=") else line for line in text.splitlines()),
        encoding="utf-8")
    return root


@pytest.mark.parametrize("worker_has", ["no euromine", "euromine 0.0.9"])
def test_workers_without_this_euromine_are_named(euromine_qgis_env, small_sites, scheduler, tmp_path, worker_has):
    pythonpath = None if worker_has == "no euromine" else _other_version(tmp_path, "0.0.9")
    worker = _start_worker(scheduler, pythonpath, tmp_path)
    try:
        result = euromine_qgis_env.run("mapsites", "--sites-folder", small_sites, *SITE_ARGS,
                                       "--output-folder", tmp_path / "out", "--scheduler", scheduler)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"SCHEDULER {scheduler}: the workers must run what this client runs (euromine 0.1.0" in result.stderr
    if worker_has == "no euromine":
        assert "cannot run EuroMine" in result.stderr
        assert "No module named 'euromine_qgis'" in result.stderr
    else:
        assert "has euromine 0.0.9 (here 0.1.0)" in result.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name != ".euromine.lock"]


def test_ctrl_c_cancels_the_running_tasks_and_leaves_nothing_partial(euromine_qgis_env, small_sites, tmp_path):
    out = tmp_path / "out"
    run = euromine_qgis_env.popen("mapsites", "--sites-folder", small_sites, *SITE_ARGS, "--output-folder", out,
                                  "--scheduler", "local:2")
    deadline = time.monotonic() + 120
    while not list(out.glob(".*.partial-*/footprints/*")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, "the run ended before a site was being written"
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=180)
    assert run.returncode == 130, stderr[-3000:]
    assert not [p for p in out.rglob(".*") if p.name != ".euromine.lock"], "partial outputs left"
    for site in out.iterdir():  # a site committed before Ctrl-C is complete and verified
        if site.is_dir():
            assert (site / "euromine_manifest.json").is_file()


def test_dask_is_not_imported_without_a_scheduler(small_sites, tmp_path):
    """A run without --scheduler never imports dask or distributed (they are heavy, and optional
    outside the QGIS environment)."""
    script = (
        "import sys; from euromine_qgis.cli.main import main; "
        f"code = main(['mapsites', '--sites-folder', {str(small_sites)!r}, '--sites', 'Synthetic_1', "
        f"{', '.join(repr(a) for a in SITE_ARGS)}, '--output-folder', {str(tmp_path / 'out')!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))); sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
