"""One run at a time per output folder: another process holding the folder's lock stops every
core entry point that writes into it, with the holder named; a crashed holder's lock is taken over."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from euromine_qgis.core.batch.sites import map_sites
from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import OutputError
from euromine_qgis.core.io.folder_lock import LOCK_NAME, folder_lock
from euromine_qgis.core.maps.change_layers import change_layers
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.progress import Reporter
from tests.plain_run import PLAIN_INPUT, PLAIN_SITES
from tests.rasters import random_scene, write_image

REPOSITORY = Path(__file__).resolve().parents[2]
SETTINGS = TileSettings(tile=64, overlap=16, batch_size=4)
# holds the lock of the folder argv[1] until its stdin closes
HOLDER = """
import sys
from euromine_qgis.core.io.folder_lock import folder_lock
with folder_lock(sys.argv[1], "holder script"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def start_holder(folder: Path) -> subprocess.Popen:
    """A second process that holds ``folder``'s lock once it has printed "locked"."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def images(tmp_path):
    return [(year, write_image(tmp_path / "in" / f"Year{year}.tif", random_scene(70, 90, seed=year)))
            for year in (2015, 2016)]


def test_second_process_is_refused_with_the_holder_named(tmp_path, conv_onnx, images):
    model = Model(conv_onnx, device="cpu", scale=1.0)
    taken = tmp_path / "taken"
    holder = start_holder(taken)
    try:
        with pytest.raises(OutputError) as refused:
            map_footprints(images, model, taken, settings=SETTINGS,
                           threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
        message = str(refused.value)
        assert str(taken) in message and "another run is writing into this output folder" in message
        assert f"process {holder.pid} " in message and f"on host {socket.gethostname()}," in message
        assert "holder script" in message and f"started {datetime.now():%Y-%m-%d}" in message
        assert not any(p.name.startswith("footprint_") for p in taken.iterdir())

        footprints = map_footprints(images, model, tmp_path / "free", settings=SETTINGS,  # another folder is free
                                    threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
        with pytest.raises(OutputError, match=f"process {holder.pid} "):
            change_layers([(f.year, f.footprint) for f in footprints], [(2015, 2016)], taken,
                          temporal_filter="none", min_area_ha=0.0)
        with pytest.raises(OutputError, match=f"process {holder.pid} "):
            map_sites([], model, taken, PLAIN_SITES)
        assert sorted(p.name for p in taken.iterdir()) == [LOCK_NAME]
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0

    map_footprints(images, model, taken, settings=SETTINGS,
                   threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert sorted(p.name for p in taken.iterdir()) == ["footprint_2015.tif", "footprint_2016.tif"]


def test_lock_of_a_crashed_run_is_taken_over_and_logged(tmp_path, conv_onnx, images):
    out = tmp_path / "out"
    holder = start_holder(out)
    holder.kill()
    holder.wait(timeout=60)
    assert (out / LOCK_NAME).is_file()  # the crashed run could not remove it
    log: list[str] = []
    map_footprints(images, Model(conv_onnx, device="cpu", scale=1.0), out, settings=SETTINGS,
                   reporter=Reporter(info=log.append), threshold=0.5, temporal_filter="none", min_area_ha=0.0,
                   image_input=PLAIN_INPUT)
    taken_over = [line for line in log if "took over the lock of an earlier run" in line]
    assert len(taken_over) == 1 and f"process {holder.pid} " in taken_over[0] and "holder script" in taken_over[0]
    assert sorted(p.name for p in out.iterdir()) == ["footprint_2015.tif", "footprint_2016.tif"]


def test_two_threads_of_one_process_exclude_each_other(tmp_path):
    entered, leave = threading.Event(), threading.Event()

    def first_run() -> None:
        with folder_lock(tmp_path, "first"):
            entered.set()
            leave.wait(timeout=60)

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert entered.wait(timeout=60)
        with pytest.raises(OutputError, match=f"first in process {os.getpid()} "):
            with folder_lock(tmp_path, "second"):
                pass
    finally:
        leave.set()
        thread.join(timeout=60)
    log: list[str] = []
    with folder_lock(tmp_path, "third", Reporter(info=log.append)):
        assert (tmp_path / LOCK_NAME).is_file()
    assert log == []  # a lock released normally is not reported as taken over
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with folder_lock(tmp_path, "failing run"):
            raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == []
    with folder_lock(tmp_path, "next run"):
        pass


def test_file_system_without_locks_runs_unguarded_and_says_so(tmp_path, monkeypatch):
    from euromine_qgis.core.io import folder_lock as module

    def no_locks(fd):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(module, "_try_lock", no_locks)
    lines = []
    with folder_lock(tmp_path, "run on a share", Reporter(info=lines.append)):
        (tmp_path / "output.tif").write_bytes(b"written")
    assert len(lines) == 1 and "has no file locks" in lines[0]
    assert [p.name for p in tmp_path.iterdir()] == ["output.tif"]


def test_other_lock_failures_are_refused(tmp_path, monkeypatch):
    from euromine_qgis.core.io import folder_lock as module

    def denied(fd):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(module, "_try_lock", denied)
    with pytest.raises(OutputError, match="cannot be locked"):
        with folder_lock(tmp_path, "run"):
            pass
