"""The zip users install: its contents, and loading it in a fresh QGIS the way QGIS does."""
from __future__ import annotations

import configparser
import json
import subprocess
import zipfile
from pathlib import Path

from tests.e2e.conftest import plugins_dir, qgis_env

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
    for alg_id in ("mapfootprints", "detectchange", "changelayers", "evaluate", "mapsites"):  # help is not code
        assert f"euromine_qgis/algorithms/help/{alg_id}.html" in names, alg_id
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith("euromine_qgis/export") or "torch" in n for n in names)
    assert meta["general"]["hasProcessingProvider"] == "yes"
    assert meta["general"]["qgisMinimumVersion"] == "3.22"
    bundled = json.loads((Path(__file__).resolve().parents[2] / "models_onnx" / "models.json").read_text())
    assert models == bundled and "spectral_baseline" in {m["name"] for m in models["models"]}
    for m in models["models"]:  # every bundled model travels with the plugin
        assert f"euromine_qgis/models_onnx/{m['file']}" in names, m["file"]


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
