"""euromine:changelayers through real QGIS Processing, on footprints made by euromine:mapfootprints."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsProject,
    QgsVectorLayer,
)

from euromine_qgis.algorithms.changelayers import GROUP
from euromine_qgis.core.maps.change_layers import change_layers

ALG = "euromine:changelayers"
YEARS = list(range(2015, 2025))


@pytest.fixture(scope="module")
def footprints(euromine_provider, sites, tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("footprints")
    images = sorted(str(p) for p in (sites[0] / "image").glob("Year*.tif"))
    return processing.run("euromine:mapfootprints", {"IMAGES": images, "MODEL": "spectral_baseline",
                                                     "OUTPUT_FOLDER": str(out)})["FOOTPRINTS"]


def test_algorithm_is_registered(euromine_provider):
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert alg.displayName() == "Change layers from annual footprints" and alg.groupId() == "change"
    assert [p.name() for p in alg.parameterDefinitions()] == [
        "FOOTPRINTS", "YEARS", "PAIRS", "TEMPORAL_FILTER", "MIN_AREA_HA", "OUTPUT_FOLDER", "AREA_TABLE",
        "VECTOR_OUTPUT", "TRAJECTORY", "FOOTPRINT_POLYGONS", "SITE_NAME"]
    assert alg.parameterDefinition("PAIRS").defaultValue() == "consecutive"
    assert "processing.run('euromine:changelayers'" in alg.shortHelpString()


@pytest.mark.slow
def test_all_pairs_equal_the_engine_and_load_styled_in_a_group(footprints, tmp_path):
    context = QgsProcessingContext()
    project = QgsProject()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    result = processing.run(ALG, {"FOOTPRINTS": footprints, "PAIRS": "all", "OUTPUT_FOLDER": str(tmp_path / "alg")},
                            context=context, feedback=feedback)

    core = change_layers([(int(Path(p).stem[-4:]), Path(p)) for p in footprints], list(combinations(YEARS, 2)),
                         tmp_path / "core", temporal_filter="none", min_area_ha=0.0)
    assert result["YEARS"] == YEARS and len(result["CHANGE"]) == 45
    assert result["AREA_TABLE"] == str(tmp_path / "alg" / "area_table.csv")
    assert result["AREA_HA"] == {str(y): pytest.approx(ha, rel=1e-12) for y, ha in core.area_ha.items()}
    assert any(v > 0 for v in result["AREA_HA"].values())
    for (a, b), area in core.pairs.items():
        key = f"{a}-{b}"
        assert (result["GAIN_HA"][key], result["LOSS_HA"][key]) == pytest.approx((area.gain_ha, area.loss_ha),
                                                                                 rel=1e-12)
        assert result["NET_HA"][key] == pytest.approx(area.net_ha, rel=1e-12)
        with rasterio.open(result["CHANGE"][key]) as alg_src, rasterio.open(core.change[(a, b)]) as core_src:
            assert np.array_equal(alg_src.read(1), core_src.read(1))
    for name, path in (("FIRST_YEAR", core.first_year), ("TRANSITIONS", core.transitions)):
        with rasterio.open(result[name]) as alg_src, rasterio.open(path) as core_src:
            assert np.array_equal(alg_src.read(1), core_src.read(1))

    details = context.layersToLoadOnCompletion()
    assert len(details) == 4 + 45 + 1 + 1  # summaries, changes, area table, trajectory
    renderers = {}
    for path, detail in details.items():
        layer = QgsProcessingUtils.mapLayerFromString(path, context, typeHint=detail.layerTypeHint)
        assert layer is not None and layer.isValid(), path
        project.addMapLayer(context.temporaryLayerStore().takeMapLayer(layer))
        detail.postProcessor().postProcessLayer(layer, context, feedback)
        assert project.layerTreeRoot().findLayer(layer.id()).parent().name() == GROUP
        renderers[detail.name] = layer
    assert renderers["Change 2015–2024"].renderer().type() == "paletted"
    colors = {c.value: c.color.name() for c in renderers["Change 2015–2024"].renderer().classes()}
    assert colors[1] != colors[2]
    first = renderers["First year mined"].renderer()
    assert first.type() == "singlebandpseudocolor"
    assert [item.value for item in first.shader().rasterShaderFunction().colorRampItemList()] == YEARS
    table = renderers["Mined area per year"]
    assert isinstance(table, QgsVectorLayer) and table.featureCount() == 10
    assert [f.typeName() for f in table.fields()][:2] == ["Integer", "Real"]


def test_years_selection_and_explicit_pairs(footprints, tmp_path):
    result = processing.run(ALG, {"FOOTPRINTS": footprints, "YEARS": "2016-2019", "PAIRS": "2016-2019",
                                  "OUTPUT_FOLDER": str(tmp_path), "AREA_TABLE": str(tmp_path / "a.csv")})
    assert result["YEARS"] == [2016, 2017, 2018, 2019] and list(result["CHANGE"]) == ["2016-2019"]
    assert result["AREA_TABLE"] == str(tmp_path / "a.csv") and Path(result["AREA_TABLE"]).is_file()


def test_bad_pairs_text_is_a_processing_error(footprints, tmp_path):
    with pytest.raises(QgsProcessingException, match="PAIRS '2019 to 2020'"):
        processing.run(ALG, {"FOOTPRINTS": footprints, "PAIRS": "2019 to 2020", "OUTPUT_FOLDER": str(tmp_path)})
