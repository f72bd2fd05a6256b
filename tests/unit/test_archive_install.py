"""The archive packages installed for real, as QGIS's Python meets them: the system Python (QGIS's
on Debian, without this venv, so without pystac-client) runs the plugin's installer into a profile
folder, pip offline on a local wheelhouse of the pins (downloaded once into build/wheelhouse); then a
new process finds pystac-client there once the folder is activated, as the plugin does at every load.
An install that cannot get the wheels fails naming them and the manual command, leaving nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from euromine_qgis.core.archive.packages import ARCHIVE_MODULE, ARCHIVE_PINS
from euromine_qgis.dependencies.install import MARKER
from euromine_qgis.dependencies.plan import ARCHIVE, archive_folder
from euromine_qgis.dependencies.platforms import Platform
from tests.build_cache import locked

REPO = Path(__file__).resolve().parents[2]
QGIS_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
INSTALL = "import sys; from euromine_qgis.dependencies.install import install_archive; " \
          "from euromine_qgis.core.progress import Reporter; print(install_archive(sys.argv[1], Reporter()).folder)"
IMPORT = "import sys; from euromine_qgis.dependencies.install import activate_installed; " \
         f"activate_installed(sys.argv[1]); import {ARCHIVE_MODULE}; print({ARCHIVE_MODULE}.__file__)"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """The pinned archive packages as wheels, downloaded once."""
    folder = REPO / "build" / "wheelhouse" / ("archive-" + "-".join(ARCHIVE_PINS).replace("==", "_"))
    with locked(folder.with_name("wheelhouse.lock")):
        if not folder.is_dir():
            partial = folder.with_name(folder.name + ".partial")
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                            "--only-binary=:all:", "--no-deps", *ARCHIVE_PINS, "-d", str(partial)],
                           check=True, capture_output=True, text=True, timeout=600)
            partial.rename(folder)
    return folder


def _qgis_python(code: str, settings: Path, wheels: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(wheels)}
    return subprocess.run([str(QGIS_PYTHON), "-c", code, str(settings)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=REPO)


def test_the_installer_installs_the_archive_packages_beside_qgis_own(wheelhouse, tmp_path):
    probe = subprocess.run([str(QGIS_PYTHON), "-c", f"import {ARCHIVE_MODULE}"], capture_output=True,
                           env={**os.environ, "PYTHONPATH": ""})
    if probe.returncode == 0:
        pytest.skip(f"the system Python has {ARCHIVE_MODULE}, so it cannot be missing here")
    out = _qgis_python(INSTALL, tmp_path, wheelhouse)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    folder = Path(out.stdout.strip().splitlines()[-1])
    assert folder == Path(archive_folder(str(tmp_path), Platform.current()))
    marker = json.loads((folder / MARKER).read_text())
    assert marker["build"] == ARCHIVE and marker["requirements"][:len(ARCHIVE_PINS)] == list(ARCHIVE_PINS)
    assert not [p.name for p in folder.iterdir() if p.name.lower().startswith("numpy")]
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging folder left
    found = _qgis_python(IMPORT, tmp_path, wheelhouse)  # a new process: the plugin's next load
    assert found.returncode == 0 and folder in Path(found.stdout.strip()).parents, found.stderr[-2000:]


def test_an_install_without_the_wheels_leaves_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    out = _qgis_python(INSTALL, tmp_path / "profile", tmp_path / "empty")
    assert out.returncode != 0
    assert "pip could not install pystac-client==" in out.stderr and "Install by hand: " in out.stderr
    assert not Path(archive_folder(str(tmp_path / "profile"), Platform.current())).exists()
