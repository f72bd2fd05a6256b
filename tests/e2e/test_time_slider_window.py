"""Years as time in the real QGIS window: the desktop under Xvfb (scripts/screenshot.sh with
scripts/qgis_time_window.py) with the plugin zip installed maps a ten-year site with
processing.runAndLoadResults of mapfootprints (with probabilities) and changelayers; the layers
carry their years, the layer tree starts calm, the Temporal Controller starts at the latest year
and, stepped through the years, the canvas draws exactly one year's footprint at a time."""
from __future__ import annotations

import json
import subprocess
from itertools import pairwise

import numpy as np
from matplotlib.image import imread

from export.synthetic import generate_sites
from tests.e2e.conftest import REPO, qgis_env

YEARS = list(range(2015, 2025))
SUMMARIES = ["First year mined", "Years active"]


def test_years_step_through_the_time_slider(installed_profile, tmp_path):
    site = generate_sites(tmp_path / "sites", 1, seed=7)[0]
    png, report = tmp_path / "time.png", tmp_path / "time.json"
    env = {**qgis_env(installed_profile), "EUROMINE_WINDOW_SCRIPT": str(REPO / "scripts" / "qgis_time_window.py"),
           "EUROMINE_SITE": str(site), "EUROMINE_RUN_FOLDER": str(tmp_path / "run")}
    out = subprocess.run([str(REPO / "scripts" / "screenshot.sh"), str(png), str(report), str(installed_profile)],
                         env=env, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    window = json.loads(report.read_text())
    assert "error" not in window, window.get("error")

    layers = window["layers"]
    for year in YEARS:
        for name in (f"Footprint {year}", f"Mining probability {year}"):
            assert layers[name] == [f"{year}-01-01T00:00:01", f"{year}-12-31T23:59:59"], name
    for a, b in pairwise(YEARS):  # consecutive pairs: the change seen in year b
        assert layers[f"Change {a}–{b}"] == [f"{b}-01-01T00:00:01", f"{b}-12-31T23:59:59"]
    for name in (*SUMMARIES, "Last year mined", "Trajectory", "Footprint polygons per year"):
        assert layers[name] == ["2015-01-01T00:00:01", "2024-12-31T23:59:59"], name
    assert layers["Image 2024"] is None and layers["Mined area per year"] is None

    tree = window["tree"]
    assert (tree["EuroMine footprints"]["checked"], tree["EuroMine footprints"]["expanded"]) == (True, False)
    assert all(tree["EuroMine footprints"]["layers"].values())
    assert (tree["EuroMine mining probabilities"]["checked"], tree["EuroMine mining probabilities"]["expanded"]) == \
        (False, False)
    assert {name for name, on in tree["EuroMine change layers"]["layers"].items() if on} == \
        {*SUMMARIES, "Mined area per year"}
    # the year's footprint draws over the summaries: its group sits above theirs
    assert tree["EuroMine footprints"]["position"] < tree["EuroMine change layers"]["position"]

    assert window["navigation_mode"] == window["animated_mode"] and window["frames"] == len(YEARS)
    assert window["first_view"] == {"frame": ["2024-01-01T00:00:00", "2025-01-01T00:00:00"],
                                    "drawn": sorted(["Footprint 2024", "Image 2024", *SUMMARIES])}
    assert window["steps"] == {str(y): sorted([f"Footprint {y}", "Image 2024", *SUMMARIES]) for y in YEARS}
    assert window["canvas_contains_outputs"]

    picture = imread(png)
    assert picture.shape[:2] == (1000, 1600)
    assert len(np.unique((picture[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 200
