"""Years as time: the layers mapfootprints and changelayers load on completion carry calendar-year
temporal ranges, start in a calm layer-tree state, and with the map set to one year exactly that
year's layers draw (real processing.run, layers loaded through their post-processors)."""
from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.image import imread
from qgis import processing
from qgis.core import (
    QgsMapSettings,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsProject,
    QgsUnitTypes,
    QgsVectorLayerTemporalContext,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from euromine_qgis.algorithms.changelayers import GROUP as CHANGE_GROUP
from euromine_qgis.algorithms.layers import year_range
from euromine_qgis.algorithms.mapfootprints import FOOTPRINT_GROUP, PROBABILITY_GROUP
from euromine_qgis.core.scoring.small_multiples import mining_colour

YEARS = [2015, 2016, 2017]


def load_results(context: QgsProcessingContext, project: QgsProject, feedback) -> dict[str, object]:
    """Load every layer the run asked for into ``project`` as the GUI does; {layer name: layer}."""
    layers = {}
    for path, detail in context.layersToLoadOnCompletion().items():
        layer = QgsProcessingUtils.mapLayerFromString(path, context, typeHint=detail.layerTypeHint)
        assert layer is not None and layer.isValid(), path
        detail.setOutputLayerName(layer)  # as Processing does when it loads a result
        project.addMapLayer(context.temporaryLayerStore().takeMapLayer(layer))
        detail.postProcessor().postProcessLayer(layer, context, feedback)
        layers[detail.name] = layer
    return layers


def frame(year: int):
    """The Temporal Controller's frame of ``year`` at a one-year step: [1 January, next 1 January)."""
    from qgis.core import QgsDateTimeRange

    return QgsDateTimeRange(QDateTime(QDate(year, 1, 1), QTime(0, 0)), QDateTime(QDate(year + 1, 1, 1), QTime(0, 0)),
                            True, False)


@pytest.fixture(scope="module")
def loaded(euromine_provider, sites, tmp_path_factory):
    out = tmp_path_factory.mktemp("temporal")
    project = QgsProject()
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    images = sorted(str(p) for p in (sites[0] / "image").glob("Year*.tif"))[:len(YEARS)]
    mapped = processing.run("euromine:mapfootprints", {
        "IMAGES": images, "MODEL": "spectral_baseline", "PROBABILITIES": "uint8",
        "OUTPUT_FOLDER": str(out / "footprints")}, context=context, feedback=feedback)
    changed = processing.run("euromine:changelayers", {
        "FOOTPRINTS": mapped["FOOTPRINTS"], "PAIRS": "all", "OUTPUT_FOLDER": str(out / "change"),
        "FOOTPRINT_POLYGONS": str(out / "polygons.gpkg"), "SITE_NAME": "Synthetic_1"},
        context=context, feedback=feedback)
    yield project, load_results(context, project, feedback), changed
    project.clear()  # the project's layers go before the project and the context holding it


def test_each_layer_has_its_years_as_temporal_range(loaded):
    _, layers, _ = loaded
    expected = {**{f"Footprint {y}": (y, y) for y in YEARS}, **{f"Mining probability {y}": (y, y) for y in YEARS},
                "Change 2015–2016": (2016, 2016), "Change 2016–2017": (2017, 2017), "Change 2015–2017": (2016, 2017),
                **{name: (2015, 2017) for name in ("First year mined", "Last year mined", "Years active",
                                                    "Transitions (on/off switches)", "Trajectory")}}
    for name, (first, last) in expected.items():
        properties = layers[name].temporalProperties()
        assert properties.isActive(), name
        assert properties.fixedTemporalRange() == year_range(first, last), name
        begin, end = properties.fixedTemporalRange().begin(), properties.fixedTemporalRange().end()
        assert (begin.date(), begin.time()) == (QDate(first, 1, 1), QTime(0, 0, 1))  # see year_range
        assert (end.date(), end.time()) == (QDate(last, 12, 31), QTime(23, 59, 59))
    assert not layers["Mined area per year"].temporalProperties().isActive()  # a table, not a map


def test_one_year_draws_at_a_time(loaded):
    project, layers, _ = loaded
    root = project.layerTreeRoot()
    settings = QgsMapSettings()
    settings.setLayers(root.checkedLayers())
    settings.setIsTemporal(True)
    summaries = {"First year mined", "Years active"}
    for year in YEARS:
        settings.setTemporalRange(frame(year))
        drawn = {layer.name() for layer in settings.layers()
                 if layer.temporalProperties().isVisibleInTemporalRange(settings.temporalRange())}
        assert drawn == {f"Footprint {year}", *summaries}, year
        # ticking a per-year group or layer brings in that year's layer only
        for group, name in ((PROBABILITY_GROUP, "Mining probability {}"), (CHANGE_GROUP, "Change {}–{}")):
            candidates = [layer for layer in layers.values() if layer.name().startswith(name.split(" {")[0])]
            shown = [layer.name() for layer in candidates
                     if layer.temporalProperties().isVisibleInTemporalRange(settings.temporalRange())]
            if group == PROBABILITY_GROUP:
                assert shown == [f"Mining probability {year}"]
            else:  # the change seen from year a + 1 up to year b
                assert sorted(shown) == sorted(f"Change {a}–{b}" for a, b in ((2015, 2016), (2016, 2017), (2015, 2017))
                                               if a < year <= b)
    # outside the run's years nothing of it draws
    settings.setTemporalRange(frame(2018))
    assert not [layer for layer in settings.layers()
                if layer.temporalProperties().isVisibleInTemporalRange(settings.temporalRange())]


def test_a_calm_layer_tree_and_a_one_year_step(loaded):
    project, _, _ = loaded
    root = project.layerTreeRoot()
    footprints, probabilities, change = (root.findGroup(g) for g in (FOOTPRINT_GROUP, PROBABILITY_GROUP, CHANGE_GROUP))
    assert footprints.itemVisibilityChecked() and not footprints.isExpanded()
    assert all(node.itemVisibilityChecked() for node in footprints.findLayers())  # the slider picks the year
    assert not probabilities.itemVisibilityChecked() and not probabilities.isExpanded()
    assert all(node.itemVisibilityChecked() for node in probabilities.findLayers())
    assert change.itemVisibilityChecked() and change.isExpanded()
    checked = {node.name() for node in change.findLayers() if node.itemVisibilityChecked()}
    assert checked == {"First year mined", "Years active", "Mined area per year"}
    time = project.timeSettings()
    assert time.timeStep() == 1 and time.timeStepUnit() == QgsUnitTypes.TemporalYears
    assert (time.temporalRange().begin().date(), time.temporalRange().end().date()) == (QDate(2015, 1, 1),
                                                                                       QDate(2017, 12, 31))


def test_polygons_take_their_year_from_the_year_field(loaded):
    _, layers, _ = loaded
    polygons = layers["Footprint polygons per year"]
    properties = polygons.temporalProperties()
    assert properties.isActive() and properties.fixedTemporalRange() == year_range(2015, 2017)
    year = polygons.fields().indexOf("year")
    for y in YEARS:
        expression = properties.createFilterString(QgsVectorLayerTemporalContext(), frame(y))
        selected = {f[year] for f in polygons.getFeatures(expression)}
        assert selected <= {y} and len(list(polygons.getFeatures(expression))) == \
            len([f for f in polygons.getFeatures() if f[year] == y])


def test_changelayers_writes_the_footprints_by_year(loaded):
    _, _, changed = loaded
    png = Path(changed["SMALL_MULTIPLES"])
    assert png.parent == Path(changed["OUTPUT_FOLDER"]) and png.suffix == ".png"
    picture = imread(png)
    red = tuple(int(mining_colour()[i:i + 2], 16) / 255 for i in (1, 3, 5))
    assert (abs(picture[..., :3] - red).max(axis=-1) < 0.01).any()  # the mining colour is on it
