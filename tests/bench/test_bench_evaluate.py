"""`make bench`: evaluating ten years of a 5 000 × 5 000 site — time and peak memory growth.

The evaluation runs in a child process whose peak resident memory (VmHWM, which unlike
ru_maxrss starts afresh at exec) is its own, not this pytest process's high-water mark.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from tests.rasters import TRANSFORM

REPO = Path(__file__).resolve().parents[2]
SIDE = 5000
YEARS = tuple(range(2015, 2025))
ROWS = 256

CHILD = """
import json, sys, time
from pathlib import Path
import psutil
from euromine_qgis.core.scoring.evaluation import evaluate_rasters, match_inputs
from euromine_qgis.core.pairs import parse_pairs
folder = Path(sys.argv[1])
pred, ref = match_inputs(sorted((folder / "pred").glob("*.tif")), sorted((folder / "ref").glob("*.tif")), None)
baseline = psutil.Process().memory_info().rss
start = time.perf_counter()
evaluation = evaluate_rasters(pred, ref, parse_pairs(sys.argv[2], list(pred)))
seconds = time.perf_counter() - start
summary = evaluation.summary(0.5)
status = Path("/proc/self/status").read_text()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024
print(json.dumps({"seconds": seconds, "baseline": baseline, "peak": peak,
                  "ca_tiou": summary["ca_tiou"], "pairs": len(summary["pairs"])}))
"""


def _mask_rows(year_index: int, row0: int, rows: int, shift: int) -> np.ndarray:
    """A mine that grows over the years (a disk plus a band), as uint8 0/1 rows."""
    yy, xx = np.mgrid[row0:row0 + rows, 0:SIDE]
    radius = 900 + 90 * year_index
    disk = (yy - 2500) ** 2 + (xx - 2500 - shift) ** 2 < radius ** 2
    band = (np.abs(yy - xx // 2 - 800 - shift) < 40 + 10 * (year_index % 3))
    return (disk | band).astype(np.uint8)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Ten years of predictions (0/1, nodata 255, a nodata corner) and references (0/255, no nodata)."""
    folder = tmp_path_factory.mktemp("bench_evaluate")
    profile = dict(driver="GTiff", width=SIDE, height=SIDE, count=1, dtype="uint8", crs="EPSG:4326",
                   transform=TRANSFORM, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    for sub in ("pred", "ref"):
        (folder / sub).mkdir()
    for t, year in enumerate(YEARS):
        with rasterio.open(folder / "pred" / f"footprint_{year}.tif", "w", nodata=255, **profile) as pred, \
                rasterio.open(folder / "ref" / f"Year{year}.tif", "w", **profile) as ref:
            for row0 in range(0, SIDE, ROWS):
                rows = min(ROWS, SIDE - row0)
                window = Window(0, row0, SIDE, rows)
                predicted = _mask_rows(t, row0, rows, shift=12 * (t % 2))
                if row0 < 600:
                    predicted[:, :600] = 255
                ref.write(_mask_rows(t, row0, rows, shift=0) * 255, 1, window=window)
                pred.write(predicted, 1, window=window)
    return folder


@pytest.mark.parametrize("pairs", ["consecutive", "all"])
def test_ten_years_of_5000_squared_in_one_pass(site, pairs):
    out = subprocess.run([sys.executable, "-c", CHILD, str(site), pairs], cwd=REPO, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    growth_mb = (figures["peak"] - figures["baseline"]) / 2**20
    pixels = SIDE * SIDE * len(YEARS)
    print(f"\nevaluate {len(YEARS)} years × {SIDE} × {SIDE} (predictions + references, PAIRS={pairs}, "
          f"{figures['pairs']} pairs): {figures['seconds']:.1f} s, "
          f"{pixels / figures['seconds'] / 1e6:.0f} Mpx-years/s, peak RSS growth {growth_mb:.0f} MiB "
          f"(the 20 rasters hold {2 * pixels / 2**20:.0f} MiB uncompressed); CA-TIoU {figures['ca_tiou']:.4f}")
    assert growth_mb < 200
    assert 0.0 < figures["ca_tiou"] < 1.0
