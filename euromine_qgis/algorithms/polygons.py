"""Class rasters as GeoPackage polygons with their area, made with QGIS's gdal:polygonize."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from qgis import processing
from qgis.core import (
    QgsDistanceArea,
    QgsFeature,
    QgsFields,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QMetaType

from ..core.io.area import M2_PER_HA
from ..core.io.outputs import atomic_outputs
from ..qgis_compat import AREA_SQUARE_METERS, WKB_MULTIPOLYGON, field
from .translation import tr


def area_measure(layer: QgsVectorLayer, context: QgsProcessingContext) -> QgsDistanceArea:
    """Ellipsoidal area on the ellipsoid of the CRS's datum, in any CRS (like core.io.area's)."""
    measure = QgsDistanceArea()
    measure.setSourceCrs(layer.crs(), context.transformContext())
    measure.setEllipsoid(layer.crs().ellipsoidAcronym())
    return measure


def polygonize(raster: Path, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> QgsVectorLayer:
    """gdal:polygonize of ``raster`` (4-connected, nodata left out) as a layer with field DN."""
    polygons = processing.run(
        "gdal:polygonize",
        {"INPUT": str(raster), "BAND": 1, "FIELD": "DN", "EIGHT_CONNECTEDNESS": False, "OUTPUT": "TEMPORARY_OUTPUT"},
        context=context, feedback=feedback, is_child_algorithm=True,
    )["OUTPUT"]
    layer = QgsVectorLayer(polygons, raster.stem, "ogr")
    if not layer.isValid():
        raise QgsProcessingException(tr("{raster}: gdal:polygonize produced no readable layer").format(raster=raster))
    return layer


def measured_polygons(source: QgsVectorLayer,
                      context: QgsProcessingContext) -> Iterator[tuple[int, QgsGeometry, float]]:
    """(DN value, multipolygon geometry, ellipsoidal area in hectares) of every polygon of ``source``."""
    measure = area_measure(source, context)
    for polygon in source.getFeatures():
        geometry = polygon.geometry()
        geometry.convertToMultiType()
        square_metres = measure.convertAreaMeasurement(measure.measureArea(geometry), AREA_SQUARE_METERS)
        yield int(polygon["DN"]), geometry, square_metres / M2_PER_HA


def gpkg_layer_writer(gpkg: Path, layer_name: str, fields: QgsFields, crs, context: QgsProcessingContext
                      ) -> QgsVectorFileWriter:
    """A writer of multipolygon layer ``layer_name`` in ``gpkg`` (added when the file exists)."""
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = layer_name
    options.actionOnExistingFile = (QgsVectorFileWriter.ActionOnExistingFile.CreateOrOverwriteLayer if gpkg.exists()
                                    else QgsVectorFileWriter.ActionOnExistingFile.CreateOrOverwriteFile)
    writer = QgsVectorFileWriter.create(str(gpkg), fields, WKB_MULTIPOLYGON, crs,
                                        context.transformContext(), options)
    if writer.hasError() != QgsVectorFileWriter.WriterError.NoError:
        raise QgsProcessingException(tr("{gpkg}: cannot write layer {layer} ({error})").format(
            gpkg=gpkg, layer=layer_name, error=writer.errorMessage()))
    return writer


def write_class_polygons(
    raster: Path,
    gpkg: Path,
    layer_name: str,
    classes: Mapping[int, str],
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> int:
    """Polygonize ``raster`` (its nodata left out) into layer ``layer_name`` of ``gpkg`` with a
    ``class`` field (``classes[value]``; values not in ``classes`` are dropped) and ``area_ha``.
    Returns the number of polygons written."""
    source = polygonize(raster, context, feedback)
    fields = QgsFields()
    fields.append(field("class", QMetaType.Type.QString))
    fields.append(field("area_ha", QMetaType.Type.Double))
    writer = gpkg_layer_writer(gpkg, layer_name, fields, source.crs(), context)
    count = 0
    for value, geometry, hectares in measured_polygons(source, context):
        if value not in classes:
            continue
        feature = QgsFeature(fields)
        feature.setGeometry(geometry)
        feature.setAttributes([classes[value], hectares])
        writer.addFeature(feature)
        count += 1
    del writer  # closes the layer
    return count


def write_change_polygons(
    gpkg: Path,
    change: Mapping[tuple[int, int], Path],
    footprints: Mapping[int, Path],
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> Path:
    """One GeoPackage: layer ``change_A_B`` per pair (class gain/loss) and ``footprint_YYYY`` per
    year (class mining, the value 1 of a 0/1 mask such as core change_layers' ``masks``), each
    polygon with area_ha. Written under a unique temporary name and renamed when complete
    (core.io.outputs.atomic_outputs), like the rasters."""
    layers = [(f"change_{a}_{b}", raster, {1: "gain", 2: "loss"}) for (a, b), raster in change.items()]
    layers += [(f"footprint_{year}", raster, {1: "mining"}) for year, raster in footprints.items()]
    with atomic_outputs([gpkg]) as (temp,):
        for name, raster, classes in layers:
            if feedback.isCanceled():
                raise QgsProcessingException(tr("the run was cancelled; no partial output was kept"))
            feedback.pushInfo(tr("Polygons of {layer}").format(layer=name))
            write_class_polygons(raster, temp, name, classes, context, feedback)
    return gpkg
