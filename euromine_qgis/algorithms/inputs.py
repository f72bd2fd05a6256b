"""Raster inputs of the algorithms: the files behind a multiple-layers value (paths, layers, layer
ids or names, or the batch dialog's ``;``-joined text) with their layer names, and what is wrong
with one QGIS cannot load."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingUtils,
)

from ..core.errors import InputError
from ..core.io.raster import inspect_image
from .translation import tr


def layer_sources(parameters: dict, name: str, context: QgsProcessingContext) -> list[tuple[Path, str]]:
    """(file, layer name) of each raster of a multiple-layers value, without loading files given as
    paths as layers (QGIS logs GDAL errors for every label without a geotransform it loads).

    The value may be layers, paths, layer ids or names, or one text of them separated by ``;``:
    the batch dialog passes several files chosen for one row that way.
    """
    values = parameters.get(name)
    values = values if isinstance(values, (list, tuple)) else [] if values is None else [values]
    if len(values) == 1 and isinstance(values[0], str) and ";" in values[0] and not Path(values[0]).is_file():
        values = [v for v in values[0].split(";") if v.strip()]
    sources = []
    for value in values:
        layer = value if isinstance(value, QgsMapLayer) else None
        if layer is None and not Path(str(value)).is_file():
            layer = QgsProcessingUtils.mapLayerFromString(str(value), context)
            if layer is None:
                raise QgsProcessingException(
                    tr("{name}: {value} is neither a raster file nor a loaded layer").format(name=name, value=value))
        source = Path(layer.source() if layer is not None else str(value))
        if not source.is_file():
            raise QgsProcessingException(tr("{name}: {layer} is not a file-based raster ({source})").format(
                name=name, layer=layer.name(), source=source))
        sources.append((source, layer.name() if layer is not None else source.stem))
    if not sources:
        raise QgsProcessingException(tr("{name}: give at least one raster").format(name=name))
    return sources


def layer_files(parameters: dict, name: str, context: QgsProcessingContext) -> list[Path]:
    """The files of a multiple-layers value (see layer_sources)."""
    return [path for path, _ in layer_sources(parameters, name, context)]


def raster_input_problem(alg: QgsProcessingAlgorithm, parameters: dict, context: QgsProcessingContext) -> str | None:
    """What is wrong with the first raster input value QGIS cannot load, in the engine's words
    (missing, empty, not a raster, truncated), or None when every value is a usable raster."""
    for definition in alg.parameterDefinitions():
        if definition.type() not in ("raster", "multilayer"):
            continue
        values = parameters.get(definition.name())
        for value in values if isinstance(values, (list, tuple)) else [values]:
            if not isinstance(value, str) or not value:
                continue
            path = Path(value)
            if not path.exists() and QgsProcessingUtils.mapLayerFromString(value, context) is not None:
                continue  # a layer of the project, by id or name
            try:
                inspect_image(path)
            except InputError as exc:
                return f"{definition.name()}: {exc}"
    return None
