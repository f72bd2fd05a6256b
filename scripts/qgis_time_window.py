"""Run inside the QGIS desktop (``EUROMINE_WINDOW_SCRIPT=scripts/qgis_time_window.py
scripts/screenshot.sh ...``): map a site's years with processing.runAndLoadResults of
euromine:mapfootprints (with probabilities) and euromine:changelayers, as an analyst does from the
toolbox; write what the project, the layer tree, the canvas and the Temporal Controller show as
JSON, step the controller through every year recording the layers the canvas draws, take a
screenshot at the latest year and quit QGIS.

Environment: EUROMINE_SITE (a site folder with image/Year*.tif), EUROMINE_RUN_FOLDER (where the
runs write), EUROMINE_SCREENSHOT (PNG to write), EUROMINE_WINDOW_REPORT (JSON to write).
"""
import json
import os
import traceback
from pathlib import Path

from qgis import processing
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtGui import QGuiApplication
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface


def iso_range(r):
    return [r.begin().toString("yyyy-MM-ddTHH:mm:ss"), r.end().toString("yyyy-MM-ddTHH:mm:ss")]


def tree_state(root):
    """{group: {"checked", "expanded", "position", "layers": {name: checked}}} of the top-level
    groups; position 0 is the top of the tree (drawn over the others)."""
    return {group.name(): {"checked": group.itemVisibilityChecked(), "expanded": group.isExpanded(),
                           "position": root.children().index(group),
                           "layers": {node.name(): node.itemVisibilityChecked() for node in group.findLayers()}}
            for group in root.findGroups()}


def drawn(canvas):
    """The layers the canvas draws now: its visible layers that its temporal range lets through."""
    settings = canvas.mapSettings()
    return sorted(layer.name() for layer in settings.layers()
                  if not settings.isTemporal()
                  or layer.temporalProperties().isVisibleInTemporalRange(settings.temporalRange()))


def map_site():
    site, out = Path(os.environ["EUROMINE_SITE"]), Path(os.environ["EUROMINE_RUN_FOLDER"])
    images = sorted(str(p) for p in (site / "image").glob("Year*.tif"))
    main = iface.mainWindow()
    main.setGeometry(QGuiApplication.primaryScreen().availableGeometry())  # Xvfb has no window manager
    imagery = QgsRasterLayer(images[-1], f"Image {Path(images[-1]).stem[4:]}")
    QgsProject.instance().addMapLayer(imagery)
    mapped = processing.runAndLoadResults("euromine:mapfootprints", {
        "IMAGES": images, "MODEL": "spectral_baseline", "PROBABILITIES": "uint8",
        "OUTPUT_FOLDER": str(out / "footprints")})
    processing.runAndLoadResults("euromine:changelayers", {
        "FOOTPRINTS": mapped["FOOTPRINTS"], "OUTPUT_FOLDER": str(out / "change"), "SITE_NAME": site.name,
        "FOOTPRINT_POLYGONS": str(out / "footprint_polygons.gpkg")})
    for dock in main.findChildren(QDockWidget):
        if dock.windowTitle() == "Temporal Controller":
            dock.show()
            dock.raise_()
    QTimer.singleShot(1500, lambda: run(report))  # let the canvas and the docks settle


def report():
    canvas = iface.mapCanvas()
    project = QgsProject.instance()
    navigation = canvas.temporalController()
    footprint = next(layer for layer in project.mapLayers().values() if layer.name().startswith("Footprint 20"))
    result = {
        "layers": {layer.name(): iso_range(layer.temporalProperties().fixedTemporalRange())
                   if layer.temporalProperties().isActive() else None for layer in project.mapLayers().values()},
        "tree": tree_state(project.layerTreeRoot()),
        "navigation_mode": int(navigation.navigationMode()),
        "animated_mode": int(type(navigation).Animated),
        "frames": navigation.totalFrameCount(),
        "first_view": {"frame": iso_range(navigation.dateTimeRangeForFrameNumber(navigation.currentFrameNumber())),
                       "drawn": drawn(canvas)},
        "canvas_extent": canvas.extent().toString(6),
        "outputs_extent": footprint.extent().toString(6),
        "canvas_contains_outputs": canvas.extent().contains(footprint.extent()),
        "steps": {},
    }
    latest = navigation.currentFrameNumber()
    for frame in range(navigation.totalFrameCount()):
        navigation.setCurrentFrameNumber(frame)
        result["steps"][iso_range(canvas.temporalRange())[0][:4]] = drawn(canvas)
    navigation.setCurrentFrameNumber(latest)
    canvas.refresh()
    QTimer.singleShot(2500, lambda: run(lambda: shoot(result)))  # let it paint


def shoot(result):
    result["screenshot_saved"] = QGuiApplication.primaryScreen().grabWindow(0).save(
        os.environ["EUROMINE_SCREENSHOT"], "PNG")
    with open(os.environ["EUROMINE_WINDOW_REPORT"], "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1)
    QgsApplication.instance().exit(0)


def run(step):
    try:
        step()
    except Exception:  # report and quit instead of leaving QGIS open under Xvfb
        with open(os.environ["EUROMINE_WINDOW_REPORT"], "w", encoding="utf-8") as out:
            json.dump({"error": traceback.format_exc()}, out)
        QgsApplication.instance().exit(1)


QTimer.singleShot(1000, lambda: run(map_site))
