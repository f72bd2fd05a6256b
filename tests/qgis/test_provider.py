"""What a person sees of every EuroMine algorithm in the toolbox: display name, group, icon and a
help text that explains every parameter and the results and shows a processing.run example."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsApplication, QgsProcessingFeedback

from euromine_qgis.algorithms.base import EuroMineAlgorithm
from euromine_qgis.environment import check_environment

ALGORITHMS = {  # id: (display name, group)
    "euromine:mapfootprints": ("Map mining footprints", "Mapping"),
    "euromine:detectchange": ("Detect change between two dates", "Change"),
    "euromine:changelayers": ("Change layers from annual footprints", "Change"),
    "euromine:evaluate": ("Evaluate footprints (CA-TIoU, IoU, F1)", "Evaluation"),
    "euromine:mapsites": ("Map and score many sites", "Site workflows"),
    "euromine:composites": ("Annual composites from a STAC archive", "Site workflows"),
    "euromine:installdependencies": ("Install dependencies (onnxruntime)", "Setup"),
}


@pytest.mark.parametrize("alg_id", sorted(ALGORITHMS))
def test_name_group_icon_and_help(euromine_provider, alg_id):
    alg = QgsApplication.processingRegistry().algorithmById(alg_id)
    assert (alg.displayName(), alg.group()) == ALGORITHMS[alg_id]
    assert Path(alg.svgIconPath()).is_file() and not alg.icon().isNull()
    assert alg.svgIconPath() != euromine_provider.svgIconPath()
    help_text = alg.shortHelpString()
    for parameter in alg.parameterDefinitions():
        assert parameter.name() in help_text, f"{alg_id}: help does not explain {parameter.name()}"
    assert "Results:" in help_text and f"processing.run('{alg_id}'" in help_text
    if alg.parameterDefinition("MODEL") is not None:
        assert "spectral_baseline" in help_text  # the bundled models, labelled as the model list labels them


def test_provider_loads_everything_here(euromine_provider):
    assert {a.id() for a in euromine_provider.algorithms()} == set(ALGORITHMS)
    assert euromine_provider.unavailable == {}
    assert euromine_provider.warningMessage() == "\n".join(p.message() for p in check_environment())


def test_model_runs_state_provider_and_device_first(euromine_provider, sites, tmp_path):
    feedback = QgsProcessingFeedback()
    images = [str(sites[0] / "image" / f"Year{y}.tif") for y in (2015, 2016)]
    processing.run("euromine:detectchange", {"BEFORE": images[0], "AFTER": images[1], "MODEL": "spectral_baseline",
                                             "CHANGE": str(tmp_path / "change.tif")}, feedback=feedback)
    lines = [line for line in feedback.textLog().splitlines() if line.strip()]
    assert any(line.startswith("Execution provider: CPUExecutionProvider on ") for line in lines[:3]), lines[:5]


ADAPTER_HOOKS = {"execute", "present", "postProcessAlgorithm"}  # what a subclass may add to the generated algorithm


def test_algorithms_are_adapters_of_their_specs(euromine_provider):
    """Every algorithm is its spec's generated algorithm: the base reads the parameters, runs the use
    case and turns the engine's errors into Processing errors; a subclass only adds what QGIS alone
    does (loading layers, polygons, the profile folder) and declares no parameter of its own."""
    for alg in euromine_provider.algorithms():
        cls = type(alg)
        assert isinstance(alg, EuroMineAlgorithm) and cls.processAlgorithm is EuroMineAlgorithm.processAlgorithm
        own = {name for name, value in vars(cls).items() if callable(value) and not name.startswith("__")}
        assert own <= ADAPTER_HOOKS, f"{alg.id()}: {sorted(own - ADAPTER_HOOKS)}"
        declared = [p.name for p in cls.SPEC.params if "qgis" in p.surfaces]
        assert [p.name() for p in alg.parameterDefinitions()] == declared
        source = inspect.getsource(inspect.getmodule(cls))
        assert "EuroMineError" not in source and "QgsProcessingParameter" not in source, alg.id()


WITHOUT_ONNXRUNTIME = r"""
import json, sys
sys.modules["onnxruntime"] = None  # importing it now fails as if it were not installed
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
from euromine_qgis.provider import EuroMineProvider
provider = EuroMineProvider()
QgsApplication.processingRegistry().addProvider(provider)
detectchange = provider.algorithm("detectchange")
print(json.dumps({"algorithms": sorted(a.name() for a in provider.algorithms()),
                  "unavailable": sorted(provider.unavailable),
                  "methods": detectchange.parameterDefinition("METHOD").options() if detectchange else []}))
"""


def test_without_onnxruntime_only_the_algorithms_that_always_run_a_model_are_left_out():
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", WITHOUT_ONNXRUNTIME], cwd=repo, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    # detectchange: METHOD footprints; installdependencies: the fix
    assert loaded["algorithms"] == ["changelayers", "composites", "detectchange", "evaluate", "installdependencies"]
    assert loaded["unavailable"] == ["mapfootprints", "mapsites"] and "footprints" in loaded["methods"]
