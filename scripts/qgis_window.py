"""Run inside the QGIS desktop (``qgis --code scripts/qgis_window.py``, see scripts/screenshot.sh):
open the Processing toolbox on the EuroMine group and the Map mining footprints dialog, take a
screenshot of the screen, write what the window shows as JSON and quit QGIS.

Environment: EUROMINE_SCREENSHOT (PNG to write), EUROMINE_WINDOW_REPORT (JSON to write).
"""
import json
import os
import traceback

from qgis import processing
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QGuiApplication
from qgis.utils import iface, plugins

ALGORITHM = "euromine:mapfootprints"


def euromine_node(tree):
    """The toolbox tree's EuroMine provider index, expanded with its groups; the others collapsed."""
    model = tree.model()
    found = None
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if model.data(index) == "EuroMine":
            found = index
            tree.expand(index)
            for group in range(model.rowCount(index)):
                tree.expand(model.index(group, 0, index))
        else:
            tree.collapse(index)
    return found


def toolbox_contents(tree, provider):
    """{group: [algorithm display names]} under the EuroMine node as the toolbox shows it."""
    model = tree.model()
    groups = {}
    for g in range(model.rowCount(provider)):
        group = model.index(g, 0, provider)
        groups[model.data(group)] = [model.data(model.index(a, 0, group)) for a in range(model.rowCount(group))]
    return groups


def shoot(toolbox, dialog, provider):
    report = {
        "toolbox_visible": toolbox.isVisible(),
        "euromine_in_toolbox": provider is not None,
        "toolbox_groups": toolbox_contents(toolbox.algorithmTree, provider) if provider is not None else {},
        "dialog_visible": dialog.isVisible(),
        "dialog_title": dialog.windowTitle(),
        "dialog_parameters": [p.name() for p in dialog.algorithm().parameterDefinitions()],
        "plugin_file": plugins["euromine_qgis"].__module__ if "euromine_qgis" in plugins else None,
    }
    screen = QGuiApplication.primaryScreen()
    report["screenshot_saved"] = screen.grabWindow(0).save(os.environ["EUROMINE_SCREENSHOT"], "PNG")
    with open(os.environ["EUROMINE_WINDOW_REPORT"], "w", encoding="utf-8") as out:
        json.dump(report, out, indent=1)
    dialog.close()
    QgsApplication.instance().exit(0)


def open_windows():
    main = iface.mainWindow()
    main.setGeometry(QGuiApplication.primaryScreen().availableGeometry())  # Xvfb has no window manager to maximize
    toolbox = plugins["processing"].toolbox
    toolbox.show()
    toolbox.raise_()
    main.resizeDocks([toolbox], [430], Qt.Horizontal)
    provider = euromine_node(toolbox.algorithmTree)
    dialog = processing.createAlgorithmDialog(ALGORITHM, {})
    if dialog is None:
        raise RuntimeError(f"{ALGORITHM} is not available (see the EuroMine messages above)")
    dialog.resize(960, 800)
    dialog.move(40, 110)
    dialog.show()
    QTimer.singleShot(2500, lambda: shoot(toolbox, dialog, provider))  # let both windows paint


def run():
    try:
        open_windows()
    except Exception:  # report and quit instead of leaving QGIS open under Xvfb
        with open(os.environ["EUROMINE_WINDOW_REPORT"], "w", encoding="utf-8") as out:
            json.dump({"error": traceback.format_exc()}, out)
        QgsApplication.instance().exit(1)


QTimer.singleShot(1000, run)
