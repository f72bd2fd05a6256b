"""The dependency installer for real, as a new user meets it: a fresh profile whose QGIS Python has
no onnxruntime (qgis_process without the venv on its path), euromine:installdependencies, then a
new qgis_process (the restart) that maps a site with what was installed. By default pip installs
offline from a local wheelhouse (downloaded once for this Python into build/wheelhouse, then
reused), through pip's own PIP_NO_INDEX and PIP_FIND_LINKS; the wheelhouse offers numpy too, which
must not be taken. With EUROMINE_INSTALL_FROM=index (make test-qgis) pip installs from the package
index, as a user's QGIS does."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from euromine_qgis.dependencies.install import MARKER
from euromine_qgis.dependencies.plan import FOLDER_PARTS, ONNXRUNTIME_VERSION
from euromine_qgis.dependencies.platforms import Platform
from tests.build_cache import locked
from tests.e2e.conftest import QGIS_PROCESS, REPO, plugins_dir, qgis_env

ABI = Platform.current().abi
MISSING = "onnxruntime is not installed in QGIS's Python"
# this venv's base
QGIS_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
FROM_INDEX = os.environ.get("EUROMINE_INSTALL_FROM") == "index"


@pytest.fixture(scope="session")
def wheelhouse() -> Path | None:
    """onnxruntime and its requirements (numpy among them) as wheels for this Python, downloaded once;
    None with EUROMINE_INSTALL_FROM=index: pip takes them from the package index."""
    if FROM_INDEX:
        return None
    folder = REPO / "build" / "wheelhouse" / f"onnxruntime-{ONNXRUNTIME_VERSION}-{ABI}-{sysconfig.get_platform()}"
    with locked(folder.with_name("wheelhouse.lock")):
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
    """qgis_process with QGIS's Python alone (no venv on its path) and pip offline on ``wheels``, or on
    the package index as this machine configures it where ``wheels`` is None."""
    env = {**qgis_env(home), "PYTHONPATH": ""}
    if wheels is not None:
        env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=600)


def is_qgis_python(interpreter: str) -> bool:
    """Whether ``interpreter`` is QGIS's own Python (``python3`` or ``python3.X`` of the system)."""
    return Path(interpreter).is_file() and os.path.samefile(interpreter, QGIS_PYTHON)


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
    assert is_qgis_python(json.loads((folder / MARKER).read_text())["python"])  # pip ran on QGIS's Python
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
    manual = re.search(r"nothing was installed\. Install by hand: "
                       r"(\S+) -m pip install --target (\S+) --upgrade --no-deps", text)
    assert manual and is_qgis_python(manual.group(1)) and manual.group(2) == str(folder), text[-3000:]
    assert not folder.exists() and list(folder.parent.iterdir()) == []
