"""What `pip install .` ships: a core and a command that never import QGIS or GDAL's own bindings,
and one version with the plugin."""
from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEADLESS = (REPO / "euromine_qgis" / "core", REPO / "euromine_qgis" / "cli")
FORBIDDEN = re.compile(r"^\s*(import\s+(qgis|osgeo)\b|from\s+(qgis|osgeo)\b)", re.MULTILINE)


def test_core_and_command_import_neither_qgis_nor_osgeo():
    modules = [p for folder in HEADLESS for p in folder.rglob("*.py")]
    assert len(modules) > 40
    offending = {str(p.relative_to(REPO)): FORBIDDEN.findall(p.read_text(encoding="utf-8")) for p in modules}
    assert {p: hits for p, hits in offending.items() if hits} == {}


def test_the_forbidden_pattern_catches_every_form():
    for line in ("import qgis.core", "from qgis.core import QgsRasterLayer", "    from osgeo import gdal",
                 "import osgeo.gdal_array"):
        assert FORBIDDEN.search(line), line
    assert not FORBIDDEN.search("# never imports qgis, osgeo or torch")


def test_package_version_is_the_plugins():
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == metadata["general"]["version"]
    assert project["scripts"]["euromine"] == "euromine_qgis.cli.main:main"
