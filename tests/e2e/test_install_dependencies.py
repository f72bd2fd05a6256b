"""The dependency installer for real, as a new user meets it: a fresh profile whose QGIS Python has
no onnxruntime (qgis_process without the venv on its path), euromine:installdependencies, then a
new qgis_process (the restart) that maps a site with what was installed. pip installs offline from
a local wheelhouse (downloaded once for this Python into build/wheelhouse, then reused), through
pip's own PIP_NO_INDEX and PIP_FIND_LINKS; the wheelhouse offers numpy too, which must not be taken."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from euromine_qgis.dependencies.install import MARKER
from euromine_qgis.dependencies.plan import FOLDER_PARTS, ONNXRUNTIME_VERSION
from euromine_qgis.dependencies.platforms import Platform
from tests.e2e.conftest import QGIS_PROCESS, REPO, plugins_dir, qgis_env

ABI = Platform.current().abi
MISSING = "onnxruntime is not installed in QGIS's Python"
QGIS_PYTHON = f"{sys.base_prefix}/bin/python{sys.version_info.major}.{sys.version_info.minor}"  # this venv's base


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """onnxruntime and its requirements (numpy among them) as wheels for this Python, downloaded once."""
    folder = REPO / "build" / "wheelhouse" / f"onnxruntime-{ONNXRUNTIME_VERSION}-{ABI}-{sysconfig.get_platform()}"
    if not folder.is_dir():
        partial = folder.with_name(folder.name + ".partial")
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                        "--only-binary=:all:", f"onnxruntime=={ONNXRUNTIME_VERSION}", "-d", str(partial)],
                       check=True, capture_output=True, text=True, timeout=600)
        partial.rename(folder)
    return folder


def fresh_profile(plugin_zip: Path, home: Path) -> Path:
    """``home`` with the plugin unzipped into its default profile and enabled."""
    plugins_dir(home).mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as z:
        z.extractall(plugins_dir(home))
    out = qgis_process(home, None, "plugins", "enable", "euromine_qgis")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return home


def qgis_process(home: Path, wheels: Path | None, *args: str) -> subprocess.CompletedProcess:
    """qgis_process with QGIS's Python alone (no venv on its path) and pip offline on ``wheels``."""
    env = {**qgis_env(home), "PYTHONPATH": "", "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(wheels or "")}
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=600)


def dependencies_dir(home: Path) -> Path:
    return plugins_dir(home).parent.parent.joinpath(*FOLDER_PARTS)


def test_install_restart_and_map(plugin_zip, wheelhouse, sites, tmp_path_factory, tmp_path):
    home = fresh_profile(plugin_zip, tmp_path_factory.mktemp("home"))
    before = qgis_process(home, wheelhouse, "list")
    if MISSING not in before.stderr:
        pytest.skip("QGIS's own Python has onnxruntime, so it cannot be missing here")
    assert "euromine:installdependencies" in before.stdout and "euromine:mapfootprints" not in before.stdout

    out = qgis_process(home, wheelhouse, "run", "euromine:installdependencies", "--json", "--", "DEVICE=cpu")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads(out.stdout)["results"]
    folder = Path(results["FOLDER"])
    assert results["BUILD"] == "onnxruntime" and folder == dependencies_dir(home) / f"onnxruntime-{ABI}"
    assert (folder / "onnxruntime" / "__init__.py").is_file()
    assert json.loads((folder / MARKER).read_text())["python"] == QGIS_PYTHON  # pip ran on QGIS's Python
    assert not [p.name for p in folder.iterdir() if p.name.lower().startswith("numpy")]  # QGIS's numpy only
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging folder left

    after = qgis_process(home, wheelhouse, "list")  # a new QGIS: the restart
    assert after.returncode == 0 and MISSING not in after.stderr and "euromine:mapfootprints" in after.stdout
    images = [f"IMAGES={p}" for p in sorted((sites[0] / "image").glob("Year201[56].tif"))]
    mapped = qgis_process(home, wheelhouse, "run", "euromine:mapfootprints", "--json", "--", *images,
                          "MODEL=spectral_baseline", f"OUTPUT_FOLDER={tmp_path / 'footprints'}")
    assert mapped.returncode == 0, mapped.stdout[-3000:] + mapped.stderr[-3000:]
    assert set(json.loads(mapped.stdout)["results"]["AREA_HA"]) == {"2015", "2016"}
    assert (tmp_path / "footprints" / "footprint_2016.tif").is_file()


def test_failed_install_leaves_nothing_and_gives_the_command(plugin_zip, tmp_path_factory, tmp_path):
    home = fresh_profile(plugin_zip, tmp_path_factory.mktemp("home"))
    (tmp_path / "empty").mkdir()
    out = qgis_process(home, tmp_path / "empty", "run", "euromine:installdependencies", "--", "DEVICE=cpu")
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in text
    folder = dependencies_dir(home) / f"onnxruntime-{ABI}"
    assert f"nothing was installed. Install by hand: {QGIS_PYTHON} -m pip install --target {folder} --upgrade --no-deps" in text
    assert not folder.exists() and list(folder.parent.iterdir()) == []
