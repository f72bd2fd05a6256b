"""Outputs loaded into the project when a run completes: styled from styles/, filed under a
layer-tree group, year rasters with a colour per year present, and years as time for QGIS's
Temporal Controller.

Time: a per-year layer (a footprint, a probability raster, a change raster) gets a fixed temporal
range of whole calendar years, 1 January to 31 December (year_range); a layer of polygons gets one per feature
from its integer year field. A summary over the run's years (first year mined, years active,
trajectory) gets the run's whole span, so it draws at every step. With the controller stepping a
year at a time, exactly one year's layers of a checked group draw.

A calm first view: the caller says which layers and groups start checked and which groups start
collapsed. Where a map canvas exists (the QGIS desktop), the canvas zooms to the group's layers
and the Temporal Controller is switched on at the latest year loaded, so one year draws; without
one (processing.run in a script), the project's time settings still get the span and a one-year
step.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsCoordinateTransform,
    QgsDateTimeRange,
    QgsGradientColorRamp,
    QgsGradientStop,
    QgsInterval,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsProject,
    QgsRectangle,
    QgsTemporalNavigationObject,
)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QDate, QDateTime, QTime, QTimer

from ..qgis_compat import NAVIGATION_ANIMATED, TEMPORAL_YEARS

STYLES = Path(__file__).resolve().parent.parent / "styles"
ONE_YEAR = QgsInterval(1, TEMPORAL_YEARS)


def year_range(first: int, last: int | None = None) -> QgsDateTimeRange:
    """1 January of ``first`` to 31 December (23:59:59) of ``last`` (default: ``first``), both included.

    It begins one second into 1 January: QGIS 3.22's QgsDateTimeRange.overlaps counts a range that
    begins exactly at another's excluded end as overlapping, so a layer of year Y beginning at
    00:00:00 would also draw in the Temporal Controller's frame of Y - 1, [1 January Y - 1, 1 January Y).
    """
    return QgsDateTimeRange(QDateTime(QDate(first, 1, 1), QTime(0, 0, 1)),
                            QDateTime(QDate(last or first, 12, 31), QTime(23, 59, 59)))


def year_expressions(field: str) -> tuple[str, str]:
    """Start and end expressions of a feature's calendar year from its integer ``field``."""
    quoted = '"{}"'.format(field.replace('"', '""'))
    return f"make_datetime({quoted}, 1, 1, 0, 0, 0)", f"make_datetime({quoted}, 12, 31, 23, 59, 59)"


class StyledLayer(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer loaded on completion, files it under a layer-tree group and gives it
    its years as time.

    ``qml``: a file of styles/ (None: no style). ``years``: recolour a year-valued raster's
    exact-value ramp (styles/first_year.qml) for exactly these years. ``group``: QGIS 3.22's
    LayerDetails has no group name, so the layer's node is moved into this top-level group here.
    ``span``: (first, last) calendar years of a raster's fixed temporal range. ``year_field``: a
    vector's integer year field, each feature's temporal range. ``checked``, ``group_checked``,
    ``expanded``: the layer's and the group's state in the layer tree. ``below``: groups a new
    ``group`` is made under, so that their layers draw over it.
    """

    def __init__(self, qml: str | None, group: str | None = None, years: Sequence[int] = (),
                 span: tuple[int, int] | None = None, year_field: str | None = None, checked: bool = True,
                 group_checked: bool = True, expanded: bool = True, below: Sequence[str] = ()) -> None:
        super().__init__()
        self.below = list(below)
        self.qml = str(STYLES / qml) if qml else None
        self.group = group
        self.years = list(years)
        self.span = span
        self.year_field = year_field
        self.checked = checked
        self.group_checked = group_checked
        self.expanded = expanded

    def postProcessLayer(self, layer, context, feedback) -> None:
        if layer is None or not layer.isValid():
            return
        project = layer.project() or context.project() or QgsProject.instance()
        if self.qml:
            layer.loadNamedStyle(self.qml)
        if self.years:
            _spread_year_ramp(layer, self.years)
        timed = self._set_time(layer)
        if self.group:
            _move_to_group(project, layer, self.group, self.below)
        node = project.layerTreeRoot().findLayer(layer.id())
        if node is not None:
            node.setItemVisibilityChecked(self.checked)
            if self.group and node.parent() is not None:
                node.parent().setItemVisibilityChecked(self.group_checked)
                node.parent().setExpanded(self.expanded)
                if _canvas(project) is not None:
                    # the desktop's layer tree view expands the group of the layer it makes current
                    # after the loading; collapse it again once that is done
                    QTimer.singleShot(0, lambda: _expand_group(project, self.group, self.expanded))
        if timed:
            _step_through_years(project)
        _zoom_canvas(project, node.parent() if node is not None else None)
        layer.triggerRepaint()

    def _set_time(self, layer) -> bool:
        """Give the layer its temporal range; whether it got one."""
        if self.span is not None:
            properties = layer.temporalProperties()
            properties.setMode(Qgis.RasterTemporalMode.FixedTemporalRange)
            properties.setFixedTemporalRange(year_range(*self.span))
            properties.setIsActive(True)
            return True
        if self.year_field is not None and layer.fields().indexOf(self.year_field) >= 0:
            properties = layer.temporalProperties()
            properties.setMode(Qgis.VectorTemporalMode.FeatureDateTimeStartAndEndFromExpressions)
            start, end = year_expressions(self.year_field)
            properties.setStartExpression(start)
            properties.setEndExpression(end)
            years = [y for y in layer.uniqueValues(layer.fields().indexOf(self.year_field)) if y is not None]
            if years:  # the range the Temporal Controller offers for the layer
                properties.setFixedTemporalRange(year_range(int(min(years)), int(max(years))))
            properties.setIsActive(True)
            return True
        return False


def _spread_year_ramp(layer, years: Sequence[int]) -> None:
    """One colour per year, sampled along the style's own colour items, so the legend lists the data's years."""
    shader = layer.renderer().shader().rasterShaderFunction()
    colors = [item.color for item in shader.colorRampItemList()]
    stops = [QgsGradientStop(i / (len(colors) - 1), c) for i, c in enumerate(colors[1:-1], start=1)]
    ramp = QgsGradientColorRamp(colors[0], colors[-1], False, stops)
    span = max(1, len(years) - 1)
    shader.setColorRampItemList([QgsColorRampShader.ColorRampItem(y, ramp.color(i / span), str(y))
                                 for i, y in enumerate(years)])
    shader.setMinimumValue(years[0])
    shader.setMaximumValue(years[-1])
    layer.renderer().setClassificationMin(years[0])
    layer.renderer().setClassificationMax(years[-1])


def _move_to_group(project: QgsProject, layer, name: str, below: Sequence[str] = ()) -> None:
    """Move the layer into top-level group ``name``, made on top of the tree, or right under the
    lowest of the groups ``below`` that exist (so that their layers draw over this group's)."""
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None:
        return
    group = root.findGroup(name)
    if group is None:
        above = [root.children().index(g) for g in map(root.findGroup, below) if g is not None]
        group = root.insertGroup(max(above) + 1 if above else 0, name)
    if node.parent() is not group:
        group.addChildNode(node.clone())
        node.parent().removeChildNode(node)


def _expand_group(project: QgsProject, name: str, expanded: bool) -> None:
    group = project.layerTreeRoot().findGroup(name)
    if group is not None:
        group.setExpanded(expanded)


def _timed_years(project: QgsProject) -> tuple[int, int] | None:
    """First and last calendar year of the project's layers with an active temporal range."""
    years = []
    for layer in project.mapLayers().values():
        properties = layer.temporalProperties()
        if properties is not None and properties.isActive() and properties.fixedTemporalRange().begin().isValid():
            years += [properties.fixedTemporalRange().begin().date().year(),
                      properties.fixedTemporalRange().end().date().year()]
    return (min(years), max(years)) if years else None


def _step_through_years(project: QgsProject) -> None:
    """The project's time settings (and, on the desktop, the Temporal Controller) step one calendar
    year at a time over the years of its timed layers, the controller on at the latest year."""
    years = _timed_years(project)
    if years is None:
        return
    first, last = years
    # Ends on 31 December 00:00 of the last year, not 23:59:59: QGIS counts its frames as whole
    # 365.25-day steps plus one, so the later end would add an empty frame for the following year.
    extent = QgsDateTimeRange(QDateTime(QDate(first, 1, 1), QTime(0, 0)), QDateTime(QDate(last, 12, 31), QTime(0, 0)))
    settings = project.timeSettings()
    settings.setTemporalRange(extent)
    settings.setTimeStepUnit(TEMPORAL_YEARS)
    settings.setTimeStep(1)
    canvas = _canvas(project)
    navigation = canvas.temporalController() if canvas is not None else None
    if not isinstance(navigation, QgsTemporalNavigationObject):
        return
    navigation.setTemporalExtents(extent)
    navigation.setFrameDuration(ONE_YEAR)
    navigation.setNavigationMode(NAVIGATION_ANIMATED)
    navigation.setCurrentFrameNumber(navigation.findBestFrameNumberForFrameStart(
        QDateTime(QDate(last, 1, 1), QTime(0, 0))))


def _canvas(project: QgsProject):
    """The desktop's map canvas when ``project`` is the one it shows, else None (no GUI: processing.run)."""
    from qgis.utils import iface  # None outside the QGIS desktop

    if iface is None or project is not QgsProject.instance():
        return None
    return iface.mapCanvas()


def _zoom_canvas(project: QgsProject, group) -> None:
    """On the desktop, zoom the canvas to the combined extent of ``group``'s layers."""
    canvas = _canvas(project)
    if canvas is None or group is None:
        return
    extent = QgsRectangle()
    extent.setMinimal()
    target = canvas.mapSettings().destinationCrs()
    for layer in (node.layer() for node in group.findLayers()):
        if layer is not None and layer.isSpatial() and layer.extent().isFinite():
            extent.combineExtentWith(QgsCoordinateTransform(layer.crs(), target, project).transformBoundingBox(
                layer.extent()))
    if not extent.isEmpty():
        canvas.setExtent(extent)
        canvas.refresh()


_POST_PROCESSORS: list[StyledLayer] = []


def load_on_completion(context: QgsProcessingContext, path: Path, name: str, qml: str | None,
                       group: str | None = None, years: Sequence[int] = (), vector: bool = False, *,
                       span: tuple[int, int] | None = None, year_field: str | None = None, checked: bool = True,
                       group_checked: bool = True, expanded: bool = True, below: Sequence[str] = ()) -> None:
    """Ask the GUI to load ``path`` as layer ``name`` styled with ``styles/qml`` when the run completes,
    optionally inside layer-tree ``group`` (made under the groups ``below`` where they exist), with
    the year ramp of ``years``, the temporal range of ``span`` or ``year_field`` and the layer-tree
    state of ``checked``, ``group_checked`` and ``expanded`` (see StyledLayer). ``vector``: load it
    as a vector (or table) layer, e.g. a CSV."""
    details = QgsProcessingContext.LayerDetails(name, context.project() or QgsProject.instance(), name)
    if vector:
        details.layerTypeHint = QgsProcessingUtils.LayerHint.Vector
    processor = StyledLayer(qml, group, years, span, year_field, checked, group_checked, expanded, below)
    # The context's C++ copy of the details owns and deletes the post-processor, but its Python
    # half dies with the temporary ``details`` wrapper unless referenced here until then.
    _POST_PROCESSORS[:] = [p for p in _POST_PROCESSORS if not sip.isdeleted(p)] + [processor]
    details.setPostProcessor(processor)
    context.addLayerToLoadOnCompletion(str(path), details)
