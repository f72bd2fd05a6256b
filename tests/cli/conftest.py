"""The `euromine` command in two environments: QGIS's (this venv: numpy 1, Debian's rasterio and
GDAL) and a clean venv made with the system Python where `pip install .` brought numpy 2,
rasterio's own wheel (with its own GDAL) and onnxruntime from PyPI.

The clean venv is built once under build/cli-venv with every package pinned by
tests/cli/numpy2-constraints.txt, and rebuilt when that file or pyproject.toml changes; the project
itself is reinstalled into it when what its wheel is built from changes (a digest kept in the venv),
so it always runs this checkout. One test process at a time builds or updates it (pytest-xdist's
workers share it: a lock file beside it). With
EUROMINE_CLI_VENV=latest (`make test-latest`) the venv is build/cli-venv-latest instead, made anew
with the newest release of every package, so that a new release is tried on purpose, not met in CI.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.build_cache import files_digest, locked
from tests.plain_run import AUTO_TILES, PLAIN_INPUT

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = Path(__file__).with_name("numpy2-constraints.txt")
LATEST = os.environ.get("EUROMINE_CLI_VENV") == "latest"
CLI_VENV = REPO / "build" / ("cli-venv-latest" if LATEST else "cli-venv")
STAMP = CLI_VENV / ".inputs-sha256"
INSTALLED = CLI_VENV / ".project-sha256"  # the digest of the checkout installed into it
LOCK = CLI_VENV.with_name(CLI_VENV.name + ".lock")
# What the wheel is built from (pyproject.toml's [tool.hatch.build]): the package with its linked models
PROJECT_FILES = ("pyproject.toml", "README.md", "euromine_qgis")
SYSTEM_PYTHON = Path(sys.base_prefix) / "bin" / "python3"  # the interpreter this venv was made from
# Set for QGIS's Python (tests/conftest.py, QGIS itself); the wheels bring their own PROJ and GDAL data.
FOREIGN_DATA = ("PROJ_DATA", "PROJ_LIB", "GDAL_DATA", "PYTHONPATH")


@dataclass(frozen=True)
class Euromine:
    """One environment's `euromine` command: how to start it and with which environment."""

    name: str
    argv: tuple[str, ...]
    env: dict

    def run(self, *args: object, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``euromine ARGS`` to the end (stdout and stderr captured as text)."""
        return subprocess.run([*self.argv, *map(str, args)], env=self.env, capture_output=True, text=True, check=False,
                              timeout=timeout, cwd=self.env["EUROMINE_TEST_CWD"])

    def json(self, *args: object) -> dict:
        """``euromine ARGS --json``'s result dict; fails the test on a non-zero exit."""
        out = self.run(*args, "--json")
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout)

    def popen(self, *args: object) -> subprocess.Popen:
        """Start ``euromine ARGS`` (stderr piped, stdout discarded)."""
        return subprocess.Popen([*self.argv, *map(str, args)], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, cwd=self.env["EUROMINE_TEST_CWD"])


def _pip(venv: Path, *args: str) -> None:
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q", *args],
                         capture_output=True, text=True, cwd=REPO, timeout=1800, check=False)
    assert out.returncode == 0, f"pip {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


def numpy2_venv() -> Path:
    """build/cli-venv (or build/cli-venv-latest) with this checkout installed (see the module's docstring)."""
    inputs = (REPO / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes()
    digest = "latest" if LATEST else hashlib.sha256(inputs).hexdigest()
    with locked(LOCK):
        if LATEST or not STAMP.is_file() or STAMP.read_text().strip() != digest:
            shutil.rmtree(CLI_VENV, ignore_errors=True)
            subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(CLI_VENV)], check=True, timeout=300)
            pins = ("--upgrade",) if LATEST else ("-c", str(CONSTRAINTS))
            _pip(CLI_VENV, "install", "--prefer-binary", *pins, ".", "hatchling")  # dependencies from PyPI wheels
            STAMP.write_text(digest)
        project = files_digest(*PROJECT_FILES)
        if not INSTALLED.is_file() or INSTALLED.read_text().strip() != project:
            INSTALLED.unlink(missing_ok=True)
            _pip(CLI_VENV, "install", "--no-deps", "--no-build-isolation", "--force-reinstall", ".")
            INSTALLED.write_text(project)
    return CLI_VENV


def clean_env(cwd: Path) -> dict:
    """os.environ without the QGIS environment's data paths, run from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_DATA}
    env["EUROMINE_TEST_CWD"] = str(cwd)
    return env


@pytest.fixture(scope="session")
def euromine_qgis_env() -> Euromine:
    """`python -m euromine_qgis.cli` with QGIS's interpreter (this venv), on this checkout."""
    env = dict(os.environ, PYTHONPATH=str(REPO), EUROMINE_TEST_CWD=str(REPO))
    return Euromine("qgis-env", (sys.executable, "-m", "euromine_qgis.cli"), env)


@pytest.fixture(scope="session")
def euromine_numpy2(tmp_path_factory) -> Euromine:
    """The console script `euromine` of build/cli-venv (numpy 2, rasterio's wheel), run outside the checkout."""
    venv = numpy2_venv()
    return Euromine("numpy2-venv", (str(venv / "bin" / "euromine"),), clean_env(tmp_path_factory.mktemp("cwd")))


@pytest.fixture(scope="session", params=["qgis-env", "numpy2-venv"])
def euromine(request) -> Euromine:
    """The command in each environment in turn."""
    fixture = {"qgis-env": "euromine_qgis_env", "numpy2-venv": "euromine_numpy2"}[request.param]
    return request.getfixturevalue(fixture)



@pytest.fixture(scope="session")
def footprints_of_site(sites, tmp_path_factory) -> list[Path]:
    """Annual footprints of the second generated site (2015-2018), mapped by the engine itself."""
    from euromine_qgis.core.engine.bundled import resolve_bundled
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.maps.footprints import map_footprints
    from euromine_qgis.core.years import match_years

    images = match_years(sorted((sites[1] / "image").glob("Year*.tif")), [2015, 2016, 2017, 2018])
    out = tmp_path_factory.mktemp("footprints")
    model = Model(resolve_bundled("spectral_baseline"), "cpu", scale=1.0)
    return [r.footprint for r in map_footprints(images, model, out, threshold=0.5, settings=AUTO_TILES,
                                                temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)]
