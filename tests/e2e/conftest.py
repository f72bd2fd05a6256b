"""The installable plugin zip, built by `make zip` under build/test-zip/ (again only when what it is
made from changes), and installed into a fresh QGIS profile the way the Plugin Manager does (unzipped
into profiles/<name>/python/plugins)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.build_cache import files_digest, locked

REPO = Path(__file__).resolve().parents[2]
QGIS_PROCESS = "/usr/bin/qgis_process.bin"
ZIPS = REPO / "build" / "test-zip"
# What make zip packs (pb_tool.cfg, through the links in euromine_qgis/) and how
ZIP_INPUTS = ("Makefile", "pb_tool.cfg", "euromine_qgis")


def venv_arguments() -> list[str]:
    """`make` arguments for the venv these tests run in: none for .venv (make zip sets it up with make
    env); a venv set up elsewhere (make test-qgis's chroots) is used as it is."""
    if Path(sys.prefix).resolve() == (REPO / ".venv").resolve():
        return []
    return [f"VENV={sys.prefix}", "SETUP="]


@pytest.fixture(scope="session")
def plugin_zip() -> Path:
    """build/test-zip/DIGEST/euromine_qgis.zip: `make zip`'s zip of this checkout, DIGEST its inputs'."""
    arguments = venv_arguments()
    folder = ZIPS / files_digest(*ZIP_INPUTS, extra=" ".join(arguments))
    with locked(ZIPS.with_name("test-zip.lock")):
        if not (folder / "euromine_qgis.zip").is_file():
            shutil.rmtree(ZIPS, ignore_errors=True)  # zips of earlier inputs
            made = subprocess.run(["make", "-s", "zip", f"BUILD={folder / 'build'}", f"DIST={folder}", *arguments],
                                  cwd=REPO, capture_output=True, text=True)
            assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-3000:]
    return folder / "euromine_qgis.zip"


@pytest.fixture(scope="session")
def installed_profile(plugin_zip, tmp_path_factory) -> Path:
    """A fresh HOME whose default QGIS profile has the plugin unzipped and enabled."""
    home = tmp_path_factory.mktemp("home")
    plugins = home / ".local/share/QGIS/QGIS3/profiles/default/python/plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as z:
        z.extractall(plugins)
    env = qgis_env(home)
    out = subprocess.run([QGIS_PROCESS, "plugins", "enable", "euromine_qgis"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return home


def qgis_env(home: Path) -> dict[str, str]:
    """Environment for qgis_process.bin: the profile's HOME, offscreen Qt and the venv's packages.

    qgis_process embeds the system Python, which sees the venv (onnxruntime) only through PYTHONPATH.
    """
    env = dict(os.environ)
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=sysconfig.get_paths()["purelib"])
    # pytest-qgis sets the last two
    for inherited in ("QGIS_PLUGINPATH", "QGIS_CUSTOM_CONFIG_PATH", "QGIS_OPTIONS_PATH"):
        env.pop(inherited, None)
    return env


def plugins_dir(home: Path) -> Path:
    return home / ".local/share/QGIS/QGIS3/profiles/default/python/plugins"


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
