"""The message bar's side of the installer, in a real QgsMessageBar: where onnxruntime is missing the
message carries an Install button, and the button runs the installer as a background task whose
failure (here: pip offline with an empty wheelhouse) the bar reports with the manual command, leaving
no folder behind. The successful install is tested through qgis_process (tests/e2e)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from qgis.core import Qgis, QgsApplication
from qgis.gui import QgsMessageBar
from qgis.PyQt.QtWidgets import QPushButton

from euromine_qgis.dependencies.plan import install_folder
from euromine_qgis.dependencies.platforms import Platform
from euromine_qgis.environment import GPU, check_environment
from euromine_qgis.plugin import EuroMinePlugin


def test_install_button_runs_the_installer_and_reports_its_failure(qgis_app, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # importing it fails as if it were not installed
    check_environment.cache_clear()
    try:
        problems = check_environment()
    finally:
        check_environment.cache_clear()
    (missing,) = [p for p in problems if p.affects != GPU]
    bar, plugin = QgsMessageBar(), EuroMinePlugin(None)
    offer = plugin.offer(bar, missing, Qgis.MessageLevel.Critical)
    assert "euromine:installdependencies" in offer.text()
    (button,) = offer.findChildren(QPushButton)
    assert button.text() == "Install"

    (tmp_path / "empty").mkdir()
    for name, value in (("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", str(tmp_path / "empty")),
                        ("PIP_CONFIG_FILE", os.devnull)):
        monkeypatch.setenv(name, value)
    button.click()
    assert plugin.task is not None
    deadline = time.monotonic() + 180
    while plugin.task is not None and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.05)
    assert plugin.task is None, "the install task did not finish"
    report = bar.currentItem()
    assert report.level() == Qgis.MessageLevel.Critical
    assert "Install by hand: " in report.text() and "-m pip install --target " in report.text()
    assert offer not in bar.items()  # the offer gave way to the install's own message
    assert not Path(install_folder(QgsApplication.qgisSettingsDirPath(), Platform.current())).exists()
