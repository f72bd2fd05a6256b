"""euromine:mapsites with SCHEDULER through real QGIS Processing: a LocalCluster of two worker
processes gives the local run's files, Cancel leaves nothing partial, an unreachable scheduler is
a QgsProcessingException."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsProcessingException, QgsProcessingFeedback

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow  # Dask clusters
ALG = "euromine:mapsites"


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def parameters(sites: list[Path], out: Path, scheduler: str = "") -> dict:
    return {"SITES_FOLDER": str(sites[0].parent), "SITES": "Synthetic_2,Synthetic_3", "YEARS": "2015-2016",
            "MODEL": "spectral_baseline", "DEVICE": "cpu", "SITE_REPORTS": False, "OUTPUT_FOLDER": str(out),
            "SCHEDULER": scheduler}


def test_scheduler_local2_gives_the_local_files(euromine_provider, sites, tmp_path):
    local = processing.run(ALG, parameters(sites, tmp_path / "local"))
    cluster = processing.run(ALG, parameters(sites, tmp_path / "cluster", "local:2"))
    assert cluster["MAPPED"] == local["MAPPED"] == ["Synthetic_2", "Synthetic_3"]
    assert cluster["MICRO"] == local["MICRO"]
    expected, found = files_under(tmp_path / "local"), files_under(tmp_path / "cluster")
    assert sorted(found) == sorted(expected)
    assert [name for name in expected if found[name] != expected[name]] == []


class CancelWhenWriting(QgsProcessingFeedback):
    """Presses Cancel once a worker has begun a site in its staging folder (its folder, not its first
    file: on a busy machine a site's files can all be written between two of the client's polls)."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out

    def isCanceled(self) -> bool:  # noqa: N802 (QGIS API)
        if not super().isCanceled() and list(self.out.glob(".*.partial-*")):
            self.cancel()
        return super().isCanceled()


def test_cancel_stops_the_tasks_and_leaves_nothing_partial(euromine_provider, sites, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException):
        processing.run(ALG, parameters(sites, out, "local:2"), feedback=CancelWhenWriting(out))
    assert not [p for p in out.rglob(".*") if p.name != ".euromine.lock"], "partial outputs left"


def test_unreachable_scheduler_is_a_processing_exception(euromine_provider, sites, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(QgsProcessingException, match="no Dask scheduler answered within 10 s"):
        processing.run(ALG, parameters(sites, tmp_path / "out", f"tcp://127.0.0.1:{port}"))
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name != ".euromine.lock"]
