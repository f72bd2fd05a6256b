"""The real-window check: the QGIS desktop under Xvfb (scripts/screenshot.sh) with the plugin zip
installed in a fresh profile shows the EuroMine group in the Processing toolbox and opens the Map
mining footprints dialog; the screenshot is a real picture of it."""
from __future__ import annotations

import json
import subprocess

import numpy as np
from matplotlib.image import imread
from qgis.core import Qgis

from tests.e2e.conftest import REPO, qgis_env


def test_toolbox_group_and_mapfootprints_dialog_on_screen(installed_profile, tmp_path):
    png, report = tmp_path / "window.png", tmp_path / "window.json"
    out = subprocess.run([str(REPO / "scripts" / "screenshot.sh"), str(png), str(report), str(installed_profile)],
                         env=qgis_env(installed_profile), capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    window = json.loads(report.read_text())
    assert window["toolbox_visible"] and window["euromine_in_toolbox"]
    assert window["toolbox_groups"] == {
        "Change": ["Change layers from annual footprints", "Detect change between two dates"],
        "Evaluation": ["Evaluate footprints (CA-TIoU, IoU, F1)"],
        "Mapping": ["Map mining footprints"],
        "Setup": ["Install dependencies (onnxruntime)"],
        "Site workflows": ["Annual composites from a STAC archive", "Map and score many sites"],
    }
    # QGIS 3.40 and later put the algorithm's group before its name
    title = "Mapping - Map mining footprints" if Qgis.versionInt() >= 34000 else "Map mining footprints"
    assert window["dialog_visible"] and window["dialog_title"] == title
    assert window["dialog_parameters"][:3] == ["IMAGES", "YEARS", "MODEL"]
    picture = imread(png)
    assert picture.shape[:2] == (1000, 1600)
    colours = np.unique((picture[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200 and picture[..., :3].std() > 0.05  # a drawn window, not a blank screen
