"""The archive packages are pinned once (core.archive.packages): pyproject.toml's archive extra,
requirements.txt and the installer's plan carry the same pins, and this venv runs them."""
from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from euromine_qgis.core.archive.packages import ARCHIVE_PINS
from euromine_qgis.dependencies.plan import ARCHIVE, plan_archive_install
from euromine_qgis.dependencies.platforms import Platform

REPO = Path(__file__).resolve().parents[2]


def test_the_pins_are_the_same_everywhere():
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["archive"]
    assert tuple(extra) == ARCHIVE_PINS
    lines = (REPO / "requirements.txt").read_text().splitlines()
    assert all(pin in lines for pin in ARCHIVE_PINS)
    for pin in ARCHIVE_PINS:
        name, version = pin.split("==")
        assert importlib.metadata.version(name) == version


def test_the_installer_installs_the_pins_and_what_qgis_lacks(tmp_path):
    plan = plan_archive_install(str(tmp_path), Platform.current(), {"requests", "urllib3", "idna", "certifi"})
    assert plan.build == ARCHIVE and plan.module == "pystac_client"
    assert plan.requirements == (*ARCHIVE_PINS, "python-dateutil>=2.8.2", "six", "charset-normalizer")
    assert Path(plan.folder).name.startswith("archive-cp") and Path(plan.folder).parent.name == "euromine_qgis"
    arguments = plan.pip_arguments(tmp_path)
    assert "--no-deps" in arguments and "numpy" not in " ".join(arguments)
