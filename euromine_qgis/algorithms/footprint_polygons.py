"""Per-year footprint polygons of one or many sites in one GeoPackage layer (fields site, year,
area_ha), made with QGIS's gdal:polygonize, ready to join with published mining inventories."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from qgis import processing
from qgis.core import (
    QgsFeature,
    QgsField,
    QgsFields,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsUnitTypes,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from ..core.io.area import M2_PER_HA
from ..core.io.outputs import atomic_outputs
from .polygons import area_measure
from .translation import tr

LAYER_NAME = "footprints"
MINING = 1  # the mining value of a 0/1 footprint mask


def _polygonize(raster: Path, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> QgsVectorLayer:
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


def write_footprint_polygons(
    gpkg: Path,
    footprints: Sequence[tuple[str, int, Path]],
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> Path:
    """Layer ``footprints`` of ``gpkg``: one feature per mining polygon of each (site, year,
    0/1 footprint raster), with ``site``, ``year`` and its ellipsoidal ``area_ha``. Written under a
    temporary name and renamed when complete (core.io.outputs.atomic_outputs)."""
    fields = QgsFields()
    fields.append(QgsField("site", QVariant.String))
    fields.append(QgsField("year", QVariant.Int))
    fields.append(QgsField("area_ha", QVariant.Double))
    with atomic_outputs([gpkg]) as (temp,):
        writer = None
        for site, year, raster in footprints:
            if feedback.isCanceled():
                raise QgsProcessingException(tr("the run was cancelled; no partial output was kept"))
            source = _polygonize(raster, context, feedback)
            if writer is None:  # the first footprint's CRS; the footprints of one run share it
                options = QgsVectorFileWriter.SaveVectorOptions()
                options.driverName, options.layerName = "GPKG", LAYER_NAME
                writer = QgsVectorFileWriter.create(str(temp), fields, QgsWkbTypes.MultiPolygon, source.crs(),
                                                    context.transformContext(), options)
                if writer.hasError() != QgsVectorFileWriter.NoError:
                    raise QgsProcessingException(tr("{gpkg}: cannot write layer {layer} ({error})").format(
                        gpkg=gpkg, layer=LAYER_NAME, error=writer.errorMessage()))
            measure = area_measure(source, context)
            for polygon in source.getFeatures():
                if int(polygon["DN"]) != MINING:
                    continue
                geometry = polygon.geometry()
                geometry.convertToMultiType()
                feature = QgsFeature(fields)
                feature.setGeometry(geometry)
                square_metres = measure.convertAreaMeasurement(measure.measureArea(geometry),
                                                               QgsUnitTypes.AreaSquareMeters)
                feature.setAttributes([site, int(year), square_metres / M2_PER_HA])
                writer.addFeature(feature)
        del writer  # closes the layer
    return gpkg
