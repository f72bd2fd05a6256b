"""Outputs loaded into the project when a run completes: styled from styles/, filed under a
layer-tree group, year rasters with a colour per year present."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from qgis.core import (
    QgsColorRampShader,
    QgsGradientColorRamp,
    QgsGradientStop,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsProject,
)
from qgis.PyQt import sip

STYLES = Path(__file__).resolve().parent.parent / "styles"


class StyledLayer(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer loaded on completion and files it under a layer-tree group.

    ``qml``: a file of styles/ (None: no style). ``years``: recolour a year-valued raster's
    exact-value ramp (styles/first_year.qml) for exactly these years. ``group``: QGIS 3.22's
    LayerDetails has no group name, so the layer's node is moved into this top-level group here.
    """

    def __init__(self, qml: str | None, group: str | None = None, years: Sequence[int] = ()) -> None:
        super().__init__()
        self.qml = str(STYLES / qml) if qml else None
        self.group = group
        self.years = list(years)

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 (QGIS API)
        if layer is None or not layer.isValid():
            return
        if self.qml:
            layer.loadNamedStyle(self.qml)
        if self.years:
            _spread_year_ramp(layer, self.years)
        if self.group:
            _move_to_group(layer.project() or context.project() or QgsProject.instance(), layer, self.group)
        layer.triggerRepaint()


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


def _move_to_group(project: QgsProject, layer, name: str) -> None:
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None:
        return
    group = root.findGroup(name) or root.insertGroup(0, name)
    if node.parent() is not group:
        group.addChildNode(node.clone())
        node.parent().removeChildNode(node)


_POST_PROCESSORS: list[StyledLayer] = []


def load_on_completion(context: QgsProcessingContext, path: Path, name: str, qml: str | None,
                       group: str | None = None, years: Sequence[int] = (), vector: bool = False) -> None:
    """Ask the GUI to load ``path`` as layer ``name`` styled with ``styles/qml`` when the run completes,
    optionally inside layer-tree ``group`` and with the year ramp of ``years`` (see StyledLayer).
    ``vector``: load it as a vector (or table) layer, e.g. a CSV."""
    details = QgsProcessingContext.LayerDetails(name, context.project() or QgsProject.instance(), name)
    if vector:
        details.layerTypeHint = QgsProcessingUtils.LayerHint.Vector
    processor = StyledLayer(qml, group, years)
    # The context's C++ copy of the details owns and deletes the post-processor, but its Python
    # half dies with the temporary ``details`` wrapper unless referenced here until then.
    _POST_PROCESSORS[:] = [p for p in _POST_PROCESSORS if not sip.isdeleted(p)] + [processor]
    details.setPostProcessor(processor)
    context.addLayerToLoadOnCompletion(str(path), details)
