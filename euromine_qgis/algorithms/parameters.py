"""Processing parameters and outputs made from the specs' declarations (core.app.spec), and each
value read back by its kind as the use cases take it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputDefinition,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputHtml,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core.app.models import bundled_names, model_default
from ..core.app.spec import DESTINATIONS, Kind, Outlines, Output, Param, RasterInput
from ..qgis_compat import (
    BEHAVIOR_FILE,
    BEHAVIOR_FOLDER,
    FLAG_ADVANCED,
    FLAG_OPTIONAL,
    NUMBER_DOUBLE,
    NUMBER_INTEGER,
    SOURCE_RASTER,
    SOURCE_VECTOR_POLYGON,
)
from .inputs import layer_files, layer_sources
from .translation import tr

OUTPUTS = {
    "raster": QgsProcessingOutputRasterLayer, "rasters": QgsProcessingOutputMultipleLayers,
    "file": QgsProcessingOutputFile, "html": QgsProcessingOutputHtml, "number": QgsProcessingOutputNumber,
    "folder": QgsProcessingOutputFolder, "text": QgsProcessingOutputString,
}


def _bounds(p: Param) -> dict[str, Any]:
    return {key: value for key, value in (("minValue", p.minimum), ("maxValue", p.maximum)) if value is not None}


def _made(p: Param) -> QgsProcessingParameterDefinition:
    """The Processing parameter of ``p``'s kind."""
    label, optional = tr(p.label), p.optional
    kind = p.kind
    if kind is Kind.RASTERS:
        return QgsProcessingParameterMultipleLayers(p.name, label, SOURCE_RASTER, optional=optional)
    if kind is Kind.RASTER:
        return QgsProcessingParameterRasterLayer(p.name, label, optional=optional)
    if kind in (Kind.FOLDER, Kind.FILE):
        behavior = BEHAVIOR_FOLDER if kind is Kind.FOLDER else BEHAVIOR_FILE
        return QgsProcessingParameterFile(p.name, label, behavior=behavior, extension=p.extension, optional=optional)
    if kind is Kind.TEXT:
        return QgsProcessingParameterString(p.name, label, defaultValue=p.default or None, optional=optional)
    if kind in (Kind.NUMBER, Kind.INTEGER):
        return QgsProcessingParameterNumber(p.name, label, NUMBER_DOUBLE if kind is Kind.NUMBER else NUMBER_INTEGER,
                                            defaultValue=p.default, optional=optional, **_bounds(p))
    if kind is Kind.FLAG:
        return QgsProcessingParameterBoolean(p.name, label, defaultValue=p.default)
    if kind in (Kind.CHOICE, Kind.MODEL):
        choices = list(p.choices) if kind is Kind.CHOICE else bundled_names(p.choices)
        default = p.default if kind is Kind.CHOICE else model_default(p)
        return QgsProcessingParameterEnum(p.name, label, options=choices, defaultValue=default, optional=optional,
                                          usesStaticStrings=True)
    if kind is Kind.OUTPUT_FOLDER:
        return QgsProcessingParameterFolderDestination(p.name, label, optional=optional)
    if kind is Kind.OUTPUT_FILE:
        return QgsProcessingParameterFileDestination(p.name, label, tr(p.extension), optional=optional,
                                                     createByDefault=p.temporary)
    if kind is Kind.OUTPUT_RASTER:
        return QgsProcessingParameterRasterDestination(p.name, label, optional=optional)
    if kind is Kind.POLYGONS:
        return QgsProcessingParameterFeatureSource(p.name, label, [SOURCE_VECTOR_POLYGON], optional=optional)
    if kind is Kind.EXTENT:
        return QgsProcessingParameterExtent(p.name, label, optional=optional)
    return QgsProcessingParameterField(p.name, label, parentLayerParameterName=p.parent, optional=optional)


def qgis_parameter(p: Param) -> QgsProcessingParameterDefinition:
    """The Processing parameter of ``p``: its kind's widget with its default, choices and bounds,
    under Advanced parameters where it is advanced. A destination with ``temporary`` defaults to
    QGIS's temporary output and is also marked optional: QGIS 3.22's qgis_process and
    processing.run reject a missing mandatory destination even when its default is
    TEMPORARY_OUTPUT, and left out it still gets a temporary file or folder, never nothing."""
    parameter = _made(p)
    if p.kind in DESTINATIONS and p.temporary:
        parameter.setDefaultValue(QgsProcessing.TEMPORARY_OUTPUT)
        parameter.setFlags(parameter.flags() | FLAG_OPTIONAL)
    if p.advanced:
        parameter.setFlags(parameter.flags() | FLAG_ADVANCED)
    return parameter


def qgis_output(output: Output) -> QgsProcessingOutputDefinition:
    """The Processing output of a spec's Output."""
    return OUTPUTS[output.kind](output.name, tr(output.label))


def _optional_int(alg: QgsProcessingAlgorithm, parameters: dict, name: str,
                  context: QgsProcessingContext) -> int | None:
    """An optional integer parameter: None when it is not set (parameterAsInt would give 0)."""
    value = parameters.get(name)
    if value is None or value == "" or (hasattr(value, "isNull") and value.isNull()):
        return None
    return alg.parameterAsInt(parameters, name, context)


def _outlines(alg: QgsProcessingAlgorithm, p: Param, parameters: dict,
              context: QgsProcessingContext) -> Outlines | None:
    """A POLYGONS value: each feature's name (from the FIELD parameter whose parent it is) and GeoJSON geometry."""
    source = alg.parameterAsSource(parameters, p.name, context)
    if source is None:
        return None
    field_param = next(d.name() for d in alg.parameterDefinitions()
                       if isinstance(d, QgsProcessingParameterField) and d.parentLayerParameterName() == p.name)
    field = alg.parameterAsString(parameters, field_param, context)
    if not field or source.fields().indexOf(field) < 0:
        raise QgsProcessingException(tr("{field}: choose the field of {layer} that names the sites "
                                        "(fields: {fields})").format(field=field_param, layer=p.name,
                                                                     fields=", ".join(source.fields().names())))
    crs = source.sourceCrs()
    shapes = [(f[field], None if f.geometry().isNull() else json.loads(f.geometry().asJson()))
              for f in source.getFeatures()]
    return Outlines(shapes, crs.authid() or crs.toWkt())


def _extent(alg: QgsProcessingAlgorithm, name: str, parameters: dict, context: QgsProcessingContext) -> Outlines:
    """An EXTENT value: its rectangle as the one unnamed shape of an Outlines, in the extent's CRS
    (WGS 84 where it names none)."""
    rect = alg.parameterAsExtent(parameters, name, context)
    crs = alg.parameterAsExtentCrs(parameters, name, context)
    ring = [[rect.xMinimum(), rect.yMinimum()], [rect.xMaximum(), rect.yMinimum()],
            [rect.xMaximum(), rect.yMaximum()], [rect.xMinimum(), rect.yMaximum()], [rect.xMinimum(), rect.yMinimum()]]
    return Outlines([(None, {"type": "Polygon", "coordinates": [ring]})],
                    (crs.authid() or crs.toWkt()) if crs.isValid() else "EPSG:4326")


def read_value(alg: QgsProcessingAlgorithm, p: Param, parameters: dict, context: QgsProcessingContext) -> Any:
    """The value of ``p`` in ``parameters`` as the use case takes it (see core.app.spec.Kind)."""
    kind, name, given = p.kind, p.name, parameters.get(p.name) not in (None, "", [])
    if kind is Kind.RASTERS:
        return [RasterInput(path, layer) for path, layer in layer_sources(parameters, name, context)] if given else []
    if kind is Kind.RASTER:
        return layer_files(parameters, name, context)[0] if given else None
    if kind in (Kind.FOLDER, Kind.FILE):
        return Path(alg.parameterAsFile(parameters, name, context)) if given else None
    if kind in (Kind.TEXT, Kind.FIELD):
        return alg.parameterAsString(parameters, name, context)
    if kind is Kind.NUMBER:
        return alg.parameterAsDouble(parameters, name, context)
    if kind is Kind.INTEGER:
        if p.optional:
            return _optional_int(alg, parameters, name, context)
        return alg.parameterAsInt(parameters, name, context)
    if kind is Kind.FLAG:
        return alg.parameterAsBoolean(parameters, name, context)
    if kind is Kind.CHOICE:
        return alg.parameterAsEnumString(parameters, name, context) or p.default
    if kind is Kind.MODEL:
        return alg.parameterAsEnumString(parameters, name, context) or None
    if kind is Kind.EXTENT:
        return _extent(alg, name, parameters, context) if given else None
    if kind is Kind.OUTPUT_RASTER:
        target = alg.parameterAsOutputLayer(parameters, name, context)
        return Path(target) if target else None
    if kind in (Kind.OUTPUT_FOLDER, Kind.OUTPUT_FILE):
        target = alg.parameterAsFileOutput(parameters, name, context)
        return Path(target) if target else None
    return _outlines(alg, p, parameters, context)
