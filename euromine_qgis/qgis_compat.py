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


def _scoped(new: str, old_owner: type, old: str) -> object:
    """``Qgis.<new>`` where this QGIS has that enum (3.30 or 3.36 on), else ``<old_owner>.<old>``, the
    scoped name QGIS 3.22 has; only the name taken is looked up."""
    owner, path = (Qgis, new) if hasattr(Qgis, new.split(".")[0]) else (old_owner, old)
    for part in path.split("."):
        owner = getattr(owner, part)
    return owner


SOURCE_RASTER = _scoped("ProcessingSourceType.Raster", QgsProcessing, "SourceType.TypeRaster")
SOURCE_VECTOR_POLYGON = _scoped("ProcessingSourceType.VectorPolygon", QgsProcessing, "SourceType.TypeVectorPolygon")
NUMBER_INTEGER = _scoped("ProcessingNumberParameterType.Integer", QgsProcessingParameterNumber, "Type.Integer")
NUMBER_DOUBLE = _scoped("ProcessingNumberParameterType.Double", QgsProcessingParameterNumber, "Type.Double")
BEHAVIOR_FILE = _scoped("ProcessingFileParameterBehavior.File", QgsProcessingParameterFile, "Behavior.File")
BEHAVIOR_FOLDER = _scoped("ProcessingFileParameterBehavior.Folder", QgsProcessingParameterFile, "Behavior.Folder")
FLAG_ADVANCED = _scoped("ProcessingParameterFlag.Advanced", QgsProcessingParameterDefinition, "Flag.FlagAdvanced")
FLAG_OPTIONAL = _scoped("ProcessingParameterFlag.Optional", QgsProcessingParameterDefinition, "Flag.FlagOptional")
TEMPORAL_YEARS = _scoped("TemporalUnit.Years", QgsUnitTypes, "TemporalUnit.TemporalYears")
AREA_SQUARE_METERS = _scoped("AreaUnit.SquareMeters", QgsUnitTypes, "AreaUnit.AreaSquareMeters")
WKB_MULTIPOLYGON = _scoped("WkbType.MultiPolygon", QgsWkbTypes, "Type.MultiPolygon")
NAVIGATION_ANIMATED = _scoped("TemporalNavigationMode.Animated", QgsTemporalNavigationObject, "NavigationMode.Animated")

# QgsField takes a QMetaType.Type from QGIS 3.38 and warns about QVariant.Type from 3.40; Qt 6 has no
# QVariant.Type. Before 3.38 it takes QVariant.Type, which Qt 5 numbers exactly as QMetaType.Type
# (QVariant::String is QMetaType::QString), so the number converts without naming QVariant.
_FIELD_TAKES_METATYPE = Qgis.versionInt() >= 33800


def field(name: str, meta_type: QMetaType.Type) -> QgsField:
    """A QgsField ``name`` of ``meta_type`` (e.g. ``QMetaType.Type.Double``) on every supported QGIS."""
    return QgsField(name, meta_type if _FIELD_TAKES_METATYPE else int(meta_type))
