"""The QGIS enum values and field types whose names differ between QGIS 3.22 and QGIS 3.44 / 4.

QGIS moved many enums into ``Qgis`` (3.30 and 3.36): ``Qgis.ProcessingSourceType.Raster`` where
3.22 has ``QgsProcessing.SourceType.TypeRaster``. Under Qt 6 (QGIS 4) only scoped names exist. Each
value here is the new name where this QGIS has it and 3.22's scoped name otherwise; the rest of the
plugin uses these and never an unscoped name (tests/unit/test_qt6_ready.py scans for them).
"""
from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsField,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsTemporalNavigationObject,
    QgsUnitTypes,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QMetaType

if hasattr(Qgis, "ProcessingSourceType"):  # QGIS >= 3.36
    SOURCE_RASTER = Qgis.ProcessingSourceType.Raster
    SOURCE_VECTOR_POLYGON = Qgis.ProcessingSourceType.VectorPolygon
else:
    SOURCE_RASTER = QgsProcessing.SourceType.TypeRaster
    SOURCE_VECTOR_POLYGON = QgsProcessing.SourceType.TypeVectorPolygon

if hasattr(Qgis, "ProcessingNumberParameterType"):  # QGIS >= 3.36
    NUMBER_INTEGER = Qgis.ProcessingNumberParameterType.Integer
    NUMBER_DOUBLE = Qgis.ProcessingNumberParameterType.Double
else:
    NUMBER_INTEGER = QgsProcessingParameterNumber.Type.Integer
    NUMBER_DOUBLE = QgsProcessingParameterNumber.Type.Double

if hasattr(Qgis, "ProcessingFileParameterBehavior"):  # QGIS >= 3.36
    BEHAVIOR_FILE = Qgis.ProcessingFileParameterBehavior.File
    BEHAVIOR_FOLDER = Qgis.ProcessingFileParameterBehavior.Folder
else:
    BEHAVIOR_FILE = QgsProcessingParameterFile.Behavior.File
    BEHAVIOR_FOLDER = QgsProcessingParameterFile.Behavior.Folder

if hasattr(Qgis, "ProcessingParameterFlag"):  # QGIS >= 3.36
    FLAG_ADVANCED = Qgis.ProcessingParameterFlag.Advanced
    FLAG_OPTIONAL = Qgis.ProcessingParameterFlag.Optional
else:
    FLAG_ADVANCED = QgsProcessingParameterDefinition.Flag.FlagAdvanced
    FLAG_OPTIONAL = QgsProcessingParameterDefinition.Flag.FlagOptional

if hasattr(Qgis, "TemporalUnit"):  # QGIS >= 3.30
    TEMPORAL_YEARS = Qgis.TemporalUnit.Years
else:
    TEMPORAL_YEARS = QgsUnitTypes.TemporalUnit.TemporalYears

if hasattr(Qgis, "AreaUnit"):  # QGIS >= 3.30
    AREA_SQUARE_METERS = Qgis.AreaUnit.SquareMeters
else:
    AREA_SQUARE_METERS = QgsUnitTypes.AreaUnit.AreaSquareMeters

if hasattr(Qgis, "WkbType"):  # QGIS >= 3.30
    WKB_MULTIPOLYGON = Qgis.WkbType.MultiPolygon
else:
    WKB_MULTIPOLYGON = QgsWkbTypes.Type.MultiPolygon

if hasattr(Qgis, "TemporalNavigationMode"):  # QGIS >= 3.36
    NAVIGATION_ANIMATED = Qgis.TemporalNavigationMode.Animated
else:
    NAVIGATION_ANIMATED = QgsTemporalNavigationObject.NavigationMode.Animated

# QgsField takes a QMetaType.Type from QGIS 3.38 and warns about QVariant.Type from 3.40; Qt 6 has no
# QVariant.Type. Before 3.38 it takes QVariant.Type, which Qt 5 numbers exactly as QMetaType.Type
# (QVariant::String is QMetaType::QString), so the number converts without naming QVariant.
_FIELD_TAKES_METATYPE = Qgis.versionInt() >= 33800


def field(name: str, meta_type: QMetaType.Type) -> QgsField:
    """A QgsField ``name`` of ``meta_type`` (e.g. ``QMetaType.Type.Double``) on every supported QGIS."""
    return QgsField(name, meta_type if _FIELD_TAKES_METATYPE else int(meta_type))
