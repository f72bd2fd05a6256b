"""Per-year footprint polygons of one or many sites in one GeoPackage layer (fields site, year,
area_ha), made with QGIS's gdal:polygonize, ready to join with published mining inventories."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qgis.core import (
    QgsFeature,
    QgsFields,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
)
from qgis.PyQt.QtCore import QMetaType

from ..core.io.outputs import atomic_outputs
from ..qgis_compat import field
from .polygons import gpkg_layer_writer, measured_polygons, polygonize
from .translation import tr

LAYER_NAME = "footprints"
MINING = 1  # the mining value of a 0/1 footprint mask


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
    fields.append(field("site", QMetaType.Type.QString))
    fields.append(field("year", QMetaType.Type.Int))
    fields.append(field("area_ha", QMetaType.Type.Double))
    with atomic_outputs([gpkg]) as (temp,):
        writer = None
        for site, year, raster in footprints:
            if feedback.isCanceled():
                raise QgsProcessingException(tr("the run was cancelled; no partial output was kept"))
            source = polygonize(raster, context, feedback)
            if writer is None:  # the first footprint's CRS; the footprints of one run share it
                writer = gpkg_layer_writer(temp, LAYER_NAME, fields, source.crs(), context)
            for value, geometry, hectares in measured_polygons(source, context):
                if value == MINING:
                    feature = QgsFeature(fields)
                    feature.setGeometry(geometry)
                    feature.setAttributes([site, int(year), hectares])
                    writer.addFeature(feature)
        del writer  # closes the layer
    return gpkg
