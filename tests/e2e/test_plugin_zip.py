"""The zip users install: its contents, and loading it in a fresh QGIS the way QGIS does."""
from __future__ import annotations

import configparser
import json
import re
import subprocess
import zipfile
from urllib.parse import urlparse

from tests.e2e.conftest import REPO, plugins_dir, qgis_env

# What plugins.qgis.org's upload validator (qgis-app/plugins/validator.py in qgis/QGIS-Django) requires
REQUIRED_METADATA = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                     "repository", "tracker")
MAX_ZIP_BYTES = 25_000_000

LOAD_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import qgis.utils
plugins = sys.argv[1]
sys.path.insert(0, plugins)
qgis.utils.plugin_paths = [plugins]
qgis.utils.updateAvailablePlugins()
assert "euromine_qgis" in qgis.utils.available_plugins, qgis.utils.available_plugins
assert qgis.utils.loadPlugin("euromine_qgis")
assert qgis.utils.startProcessingPlugin("euromine_qgis")
import euromine_qgis
registry = QgsApplication.processingRegistry()
provider = registry.providerById("euromine")
alg = registry.algorithmById("euromine:mapfootprints")
print(json.dumps({
    "module": euromine_qgis.__file__,
    "provider": provider.name() if provider else None,
    "algorithms": [a.id() for a in provider.algorithms()] if provider else [],
    "display": alg.displayName() if alg else None,
    "models": alg.parameterDefinition("MODEL").options() if alg else [],
    "name": qgis.utils.pluginMetadata("euromine_qgis", "name"),
}))
app.exitQgis()
"""


def test_zip_holds_a_complete_plugin(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as z:
        names = set(z.namelist())
        meta = configparser.ConfigParser()
        meta.read_string(z.read("euromine_qgis/metadata.txt").decode())
        models = json.loads(z.read("euromine_qgis/models_onnx/models.json"))
    for needed in ("__init__.py", "plugin.py", "provider.py", "environment.py", "icon.svg", "metadata.txt",
                   "algorithms/mapfootprints.py", "core/engine/inference.py", "styles/footprint.qml",
                   "models_onnx/models.json", "models_onnx/spectral_baseline.onnx"):
        assert f"euromine_qgis/{needed}" in names, needed
    for module in (REPO / "euromine_qgis").glob("*.py"):  # pb_tool.cfg lists them one by one
        assert f"euromine_qgis/{module.name}" in names, module.name
    for alg_id in ("mapfootprints", "detectchange", "changelayers", "evaluate", "mapsites"):  # spec, adapter, icon
        for part in (f"core/app/{alg_id}.py", f"algorithms/{alg_id}.py", f"icons/{alg_id}.svg"):
            assert f"euromine_qgis/{part}" in names, part
    assert not any(n.startswith("euromine_qgis/export") or "torch" in n for n in names)
    assert meta["general"]["hasProcessingProvider"] == "yes"
    assert meta["general"]["qgisMinimumVersion"] == "3.22"
    bundled = json.loads((REPO / "models_onnx" / "models.json").read_text())
    assert models == bundled and "spectral_baseline" in {m["name"] for m in models["models"]}
    for m in models["models"]:  # every bundled model travels with the plugin
        assert f"euromine_qgis/models_onnx/{m['file']}" in names, m["file"]


def test_zip_passes_the_plugin_repository_checks(plugin_zip):
    """The checks plugins.qgis.org applies to an upload (all but whether the URLs answer)."""
    assert plugin_zip.stat().st_size <= MAX_ZIP_BYTES
    with zipfile.ZipFile(plugin_zip) as z:
        assert z.testzip() is None
        names = z.namelist()
        meta = configparser.ConfigParser()
        meta.optionxform = str  # keys keep their case, as the validator reads them
        meta.read_string(z.read("euromine_qgis/metadata.txt").decode("utf-8"))
        licence = z.read("euromine_qgis/LICENSE").decode("utf-8")
        icon = z.read(f"euromine_qgis/{meta['general']['icon']}")
    assert {n.split("/")[0] for n in names} == {"euromine_qgis"}  # one top-level folder
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-_]+", "euromine_qgis")
    assert not any(".." in n or n.startswith("/") or ".pyc" in n for n in names)
    assert not any({"__pycache__", ".git", "__MACOSX"} & set(n.split("/")) for n in names)
    general = meta["general"]
    assert [key for key in REQUIRED_METADATA if not general.get(key, "").strip()] == []
    for key in ("repository", "tracker", "homepage"):
        url = urlparse(general[key])
        assert url.scheme == "https" and url.netloc, (key, general[key])
    assert "/" not in general["author"]
    assert _version(general["qgisMinimumVersion"]) <= (3, 22) and _version(general["qgisMaximumVersion"]) >= (4, 0)
    assert general["changelog"].strip() and "numpy<2" not in general["about"]
    assert licence == (REPO / "LICENSE").read_text(encoding="utf-8")  # the file itself, not a link
    assert "GPL-2.0-or-later" in licence.split("\n\n")[0] and "GNU GENERAL PUBLIC LICENSE" in licence
    assert icon.lstrip().startswith(b"<")  # the SVG the metadata names


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_fresh_profile_loads_plugin_like_qgis(installed_profile, python, tmp_path):
    out = subprocess.run([python, "-c", LOAD_SCRIPT, str(plugins_dir(installed_profile))],
                         env=qgis_env(installed_profile), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["module"].startswith(str(plugins_dir(installed_profile)))  # the installed copy, not the checkout
    assert info["provider"] == "EuroMine"
    assert "euromine:mapfootprints" in info["algorithms"]
    assert info["display"] == "Map mining footprints"
    assert "spectral_baseline" in info["models"]
    assert info["name"] == "EuroMine"
