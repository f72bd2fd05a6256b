"""The HTML evaluation report rendered by headless Chromium: not blank, no broken image."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from scipy import ndimage

from euromine_qgis.core.pairs import parse_pairs
from euromine_qgis.core.scoring.evaluation import evaluate_rasters, match_inputs
from euromine_qgis.core.scoring.report import write_report
from tests.e2e.chromium import chromium, embedded_pngs, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report(sites, tmp_path_factory) -> Path:
    """The report of a generated site: its labels against dilated, partly missed predictions."""
    site = sites[2]
    out = tmp_path_factory.mktemp("report")
    predictions = []
    for t, label in enumerate(sorted((site / "label").glob("Year*.tif"))):
        with rasterio.open(label) as src:
            mining = src.read(1) > 0
        predicted = ndimage.binary_dilation(mining, iterations=1 + t % 3).astype(np.uint8)
        predicted[:, : predicted.shape[1] // 8] = 255  # a nodata margin
        path = out / f"footprint_{label.stem[-4:]}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=mining.shape[1], height=mining.shape[0], count=1,
                           dtype="uint8", nodata=255) as dst:
            dst.write(predicted, 1)
        predictions.append(path)
    pred, ref = match_inputs(predictions, sorted((site / "label").glob("Year*.tif")), None)
    evaluation = evaluate_rasters(pred, ref, parse_pairs("all", list(pred)))
    return write_report(evaluation, out / "report.html", lam=0.5)


def test_report_renders_and_is_not_blank(report, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # text, tables and plots, not a blank page
    assert (pixels < 128).mean() > 0.01


def test_every_image_is_an_embedded_valid_png(report, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "CA-TIoU" in dom and "Change F1 by interval length" in dom
    images = embedded_pngs(dom)
    assert len(images) == 4 + 1 + 10  # four plots, the footprints over the years, one map panel per year
    assert all(min(image.size) > 50 for image in images)
