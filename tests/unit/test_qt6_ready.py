"""QGIS 4 (Qt 6) readiness of the plugin's source, proven by a scan with ``ast``.

What Qt 6 removes, as QGIS's own migration script (scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py in the
QGIS repository) lists it: QVariant types (``QVariant.Double`` becomes ``QMetaType.Type.Double``),
``QVariant()`` as NULL, ``exec_``, enum members reached through their class instead of their enum
(``Qt.AlignLeft`` becomes ``Qt.AlignmentFlag.AlignLeft``; QGIS's own too: ``QgsProcessing.TypeRaster``),
a few renamed enum members, ``qApp``, ``QRegExp``, ``QDesktopWidget``, compiled resources and
``PyQt5`` imports. Whether a name is an enum member reached through its class is asked of the real
PyQt and QGIS that run the test, so the scan knows every enum of both without a list.
"""
from __future__ import annotations

import ast
import configparser
import enum
import importlib
import inspect
import textwrap
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO

PLUGIN = REPO / "euromine_qgis"
METADATA = REPO / "metadata.txt"

# (class, member) renamed or removed in Qt 6, with the name to use instead (the migration script's)
RENAMED_ENUMS = {
    ("Qt", "MidButton"): "Qt.MouseButton.MiddleButton",
    ("Qt", "TextColorRole"): "Qt.ItemDataRole.ForegroundRole",
    ("Qt", "BackgroundColorRole"): "Qt.ItemDataRole.BackgroundRole",
    ("QPainter", "HighQualityAntialiasing"): "QPainter.RenderHint.Antialiasing",
}
REMOVED_IMPORTS = {
    "qApp": "use QApplication.instance()",
    "QRegExp": "use QRegularExpression",
    "QDesktopWidget": "use QScreen",
    "resources_rc": "load icons and .ui files by path",
}
_MISSING = object()


def _is_enum_type(value: object) -> bool:
    """A Python enum (QGIS's scoped enums, all of PyQt6's) or a PyQt5 sip enum type."""
    return isinstance(value, enum.EnumMeta) or type(value).__name__ == "enumtype"


def _is_enum_member(value: object) -> bool:
    return isinstance(value, enum.Enum) or _is_enum_type(type(value))


class _Scan(ast.NodeVisitor):
    """The Qt5-only constructs of one module's source, each as "line: what to do instead"."""

    def __init__(self, tree: ast.Module) -> None:
        self.findings: list[str] = []
        # local name -> (qgis/PyQt module, name), from every import of the module wherever it is
        self.imported = {alias.asname or alias.name: (node.module, alias.name)
                         for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
                         and node.module.split(".")[0] in ("qgis", "PyQt5", "PyQt6") for alias in node.names}

    def report(self, node: ast.AST, message: str) -> None:
        self.findings.append(f"{node.lineno}: {message}")

    def resolve(self, node: ast.expr) -> object:
        """The object ``node`` names in the real PyQt/QGIS (a name imported from them, or an
        attribute of one), or _MISSING."""
        if isinstance(node, ast.Name) and node.id in self.imported:
            module, name = self.imported[node.id]
            try:
                return getattr(importlib.import_module(module), name, _MISSING)
            except ImportError:
                return _MISSING
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value)
            return _MISSING if owner is _MISSING else getattr(owner, node.attr, _MISSING)
        return _MISSING

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == "PyQt5":
                self.report(node, f"import {alias.name}: import from qgis.PyQt")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] == "PyQt5":
            self.report(node, f"from {module}: import from qgis.PyQt")
        for alias in node.names:
            if alias.name in REMOVED_IMPORTS:
                self.report(node, f"{alias.name} is gone in Qt 6: {REMOVED_IMPORTS[alias.name]}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "qApp":
            self.report(node, "qApp is gone in Qt 6: use QApplication.instance()")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "exec_":
            self.report(node, "def exec_: name it exec")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "QVariant" and not node.args:
            self.report(node, "QVariant() as a null value: use qgis.core's NULL")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name):
            name = f"{node.value.id}.{node.attr}"
            if node.value.id == "QVariant":
                self.report(node, f"{name}: QVariant types are gone in Qt 6, use QMetaType.Type "
                                  "(euromine_qgis.qgis_compat.field makes a QgsField of one)")
            elif (node.value.id, node.attr) in RENAMED_ENUMS:
                self.report(node, f"{name} is gone in Qt 6: use {RENAMED_ENUMS[node.value.id, node.attr]}")
        if node.attr == "exec_":
            self.report(node, ".exec_(): use .exec()")
        owner = self.resolve(node.value)
        if inspect.isclass(owner) and not _is_enum_type(owner):
            member = getattr(owner, node.attr, _MISSING)
            if _is_enum_member(member):
                self.report(node, f"{ast.unparse(node)} is an enum member reached through its class, which "
                                  f"Qt 6 does not allow: reach it through its enum ({type(member).__name__}), or "
                                  "take it from euromine_qgis.qgis_compat")
        self.generic_visit(node)


def qt5_only(source: str) -> list[str]:
    """Each Qt5-only construct in the Python ``source``, as "line: what to do instead"."""
    tree = ast.parse(source)
    scan = _Scan(tree)
    scan.visit(tree)
    return sorted(set(scan.findings), key=lambda f: int(f.split(":")[0]))


def outdated_metadata(text: str) -> list[str]:
    """What in a plugin's metadata.txt keeps it from counting as QGIS 4 ready: plugins.qgis.org and
    QGIS decide that from qgisMaximumVersion >= 4.0; supportsQt6 is deprecated."""
    parser = configparser.ConfigParser()
    parser.read_string(text)
    meta = parser["general"]
    problems = []
    if "supportsQt6" in meta:
        problems.append("supportsQt6 is deprecated: qgisMaximumVersion >= 4.0 declares QGIS 4")
    maximum = meta.get("qgisMaximumVersion")
    if maximum is None or tuple(int(p) for p in maximum.split(".")) < (4, 0):
        problems.append(f"qgisMaximumVersion={maximum}: QGIS 4 needs 4.0 or later (e.g. 4.99)")
    return problems


def plugin_sources() -> list[Path]:
    return sorted(p for p in PLUGIN.rglob("*.py") if "__pycache__" not in p.parts)


def test_plugin_source_has_no_qt5_only_construct():
    findings = [f"{path.relative_to(REPO)}:{finding}" for path in plugin_sources()
                for finding in qt5_only(path.read_text(encoding="utf-8"))]
    assert not findings, "\n".join(findings)


def test_scan_reads_the_plugin():  # the scan above saw the algorithms, the plugin and the compat module
    names = {p.relative_to(PLUGIN).as_posix() for p in plugin_sources()}
    assert {"plugin.py", "provider.py", "qgis_compat.py", "algorithms/polygons.py", "algorithms/layers.py"} <= names


def test_metadata_declares_qgis4():
    assert outdated_metadata(METADATA.read_text(encoding="utf-8")) == []


# The unscoped QGIS enum names the plugin used before it was made QGIS 4 ready (issue 30), each
# reached through its class; QGIS 3.22 resolves every one.
FORMER_QGIS_NAMES = (
    "QgsProcessing.TypeRaster", "QgsProcessing.TypeVectorPolygon",
    "QgsProcessingParameterNumber.Integer", "QgsProcessingParameterNumber.Double",
    "QgsProcessingParameterFile.File", "QgsProcessingParameterFile.Folder",
    "QgsProcessingParameterDefinition.FlagAdvanced", "QgsProcessingParameterDefinition.FlagOptional",
    "QgsUnitTypes.TemporalYears", "QgsUnitTypes.AreaSquareMeters", "QgsWkbTypes.MultiPolygon",
    "QgsRasterLayerTemporalProperties.ModeFixedTemporalRange",
    "QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromExpressions",
    "QgsTemporalNavigationObject.Animated",
    "QgsVectorFileWriter.CreateOrOverwriteLayer", "QgsVectorFileWriter.CreateOrOverwriteFile",
    "QgsVectorFileWriter.NoError", "Qgis.Warning", "Qgis.Critical",
)
QGIS_IMPORT = (
    "from qgis.core import (Qgis, QgsProcessing, QgsProcessingParameterDefinition, QgsProcessingParameterFile, "
    "QgsProcessingParameterNumber, QgsRasterLayerTemporalProperties, QgsTemporalNavigationObject, QgsUnitTypes, "
    "QgsVectorFileWriter, QgsVectorLayerTemporalProperties, QgsWkbTypes)\n"
)


@pytest.mark.parametrize("name", FORMER_QGIS_NAMES)
def test_scan_reports_unscoped_qgis_enum(name):
    findings = qt5_only(QGIS_IMPORT + f"value = {name}\n")
    assert len(findings) == 1 and findings[0].startswith("2: ") and name in findings[0], findings


@pytest.mark.parametrize("snippet, expected", [
    ("from qgis.PyQt.QtCore import QVariant\nQgsField('a', QVariant.Double)\n", "2: QVariant.Double"),
    ("from qgis.PyQt.QtCore import QVariant\nvalue = QVariant()\n", "2: QVariant() as a null value"),
    ("dialog.exec_()\n", "1: .exec_()"),
    ("class Dialog:\n    def exec_(self):\n        pass\n", "2: def exec_"),
    ("from qgis.PyQt.QtCore import Qt\nalign = Qt.AlignLeft\n", "2: Qt.AlignLeft is an enum member"),
    ("from qgis.PyQt.QtWidgets import QMessageBox\nbutton = QMessageBox.Yes\n", "2: QMessageBox.Yes is an enum member"),
    ("from qgis.PyQt.QtCore import Qt\nbutton = Qt.MidButton\n", "2: Qt.MidButton is gone in Qt 6"),
    ("from PyQt5.QtCore import QTimer\n", "1: from PyQt5.QtCore"),
    ("import PyQt5.QtCore\n", "1: import PyQt5.QtCore"),
    ("from qgis.PyQt.QtCore import QRegExp\n", "1: QRegExp is gone in Qt 6"),
    ("from qgis.PyQt.QtWidgets import qApp\nqApp.processEvents()\n", "2: qApp is gone in Qt 6"),
    ("from . import resources_rc\n", "1: resources_rc is gone in Qt 6"),
])
def test_scan_reports_qt5_construct(snippet, expected):
    findings = qt5_only(snippet)
    assert any(f.startswith(expected) for f in findings), findings


def test_scan_accepts_scoped_names():
    source = textwrap.dedent("""
        from qgis.core import Qgis, QgsProcessing, QgsVectorFileWriter
        from qgis.PyQt.QtCore import QMetaType, Qt
        from qgis.PyQt.QtWidgets import QMessageBox
        values = (Qt.AlignmentFlag.AlignLeft, QMessageBox.StandardButton.Yes, Qgis.MessageLevel.Warning,
                  QgsProcessing.SourceType.TypeRaster, QgsVectorFileWriter.WriterError.NoError,
                  QMetaType.Type.Double, QgsProcessing.TEMPORARY_OUTPUT, QgsVectorFileWriter.SaveVectorOptions)
        dialog.exec()
    """)
    assert qt5_only(source) == []


def test_outdated_metadata_is_reported():
    assert outdated_metadata("[general]\nname=X\nsupportsQt6=True\n") == [
        "supportsQt6 is deprecated: qgisMaximumVersion >= 4.0 declares QGIS 4",
        "qgisMaximumVersion=None: QGIS 4 needs 4.0 or later (e.g. 4.99)"]
    assert len(outdated_metadata("[general]\nqgisMaximumVersion=3.99\n")) == 1


def test_compat_field_types():
    from qgis.PyQt.QtCore import QMetaType

    from euromine_qgis.qgis_compat import field

    made = {t: field("x", t) for t in (QMetaType.Type.QString, QMetaType.Type.Int, QMetaType.Type.Double)}
    assert {int(t): int(f.type()) for t, f in made.items()} == {10: 10, 2: 2, 6: 6}  # the same type on every QGIS
    assert [f.isNumeric() for f in made.values()] == [False, True, True]
