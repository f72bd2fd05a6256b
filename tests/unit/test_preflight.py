"""The pre-run check (maps.preflight.check_run) against real runs: its peak memory and time against
a real map_footprints run's, measured in fresh processes, its tile counts against the tiles the real
run feeds the model, and its per-image report (bands, scaling, CRS and pixel size, nodata)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core import release
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.preflight import check_run
from tests.band_stacks import l2a_stack, reflectance_copy
from tests.plain_run import AUTO_TILES, PLAIN_INPUT
from tests.rasters import random_scene, write_image

REPO = Path(__file__).resolve().parents[2]
# Wide and short: the row buffer, accumulators and GDAL's cache grow with the width, so the run's
# own memory is of the order of the interpreter's, while it maps in about a second.
WIDE = (600, 6000)
MEMORY_TOLERANCE = 0.30
TIME_FACTOR = 3.0

# One process per side: the check's estimate, or the real run's peak (VmHWM, as tests/bench
# measures it), time and the tiles its session ran.
SCRIPT = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from tests.plain_run import PLAIN_FOOTPRINTS
mode, image, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
model = Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0)
result = {}
if mode == "check":
    from euromine_qgis.core.maps.preflight import check_run
    report = check_run([(2020, image)], model, **PLAIN_FOOTPRINTS)
    result = {"peak": report.memory.peak, "seconds": report.seconds, "tiles": report.images[0].tiles,
              "baseline": report.memory.baseline}
else:
    from euromine_qgis.core.maps.footprints import map_footprints
    run, tiles = model.positive_probability, []
    def counted(batch):
        tiles.append(len(batch))
        return run(batch)
    model.positive_probability = counted
    start = time.perf_counter()
    map_footprints([(2020, image)], model, out, **PLAIN_FOOTPRINTS)
    result = {"seconds": time.perf_counter() - start, "tiles": sum(tiles)}
result["hwm"] = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps(result))
"""


def _measure(mode: str, image: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(image), str(out), str(REPO)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wide_image(tmp_path_factory) -> Path:
    """A 600 x 6000 px, 10-band int16 GeoTIFF as the release writes them (deflate, 256-px tiles)."""
    rng = np.random.default_rng(5)
    mean, std = np.array(release.MEAN)[:, None, None], np.array(release.STD)[:, None, None]
    data = np.clip(rng.normal(mean, std / 2, (10, *WIDE)), 1, 10000).astype(np.int16)
    return write_image(tmp_path_factory.mktemp("wide") / "Year2020.tif", data, tiled=True, blockxsize=256,
                       blockysize=256, compress="deflate")


@pytest.fixture(scope="module")
def baseline() -> Model:
    return Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is read from Linux's /proc")
def test_estimates_against_a_real_run(wide_image, tmp_path):
    check = _measure("check", wide_image, tmp_path / "unused")
    run = _measure("run", wide_image, tmp_path / "out")
    assert not (tmp_path / "unused").exists()
    assert check["tiles"] == run["tiles"]
    # the estimate includes the process's baseline (interpreter, libraries, session), as VmHWM does;
    # the run's own memory is a sizeable share of its peak, not lost in that baseline
    assert run["hwm"] - check["baseline"] > 0.3 * run["hwm"]
    assert abs(check["peak"] - run["hwm"]) <= MEMORY_TOLERANCE * run["hwm"], (check, run)
    assert run["seconds"] / TIME_FACTOR <= check["seconds"] <= run["seconds"] * TIME_FACTOR, (check, run)


def test_report_of_a_float_l2a_export(tmp_path, baseline):
    """A 13-band float 0-1 export: bands by name, the SCALE=10000 warning, degrees and metres,
    nodata per year; the check writes nothing."""
    data = random_scene(96, 120, seed=1)
    data[:, :24] = 0  # a quarter of the rows are fill (nodata 0)
    image = write_image(tmp_path / "in" / "Year2019.tif", data)
    stack = l2a_stack(image, tmp_path / "in" / "stack.tif")
    floats = reflectance_copy(stack, tmp_path / "in" / "Year2020.tif")
    before = sorted(tmp_path.rglob("*"))
    report = check_run([(2019, image), (2020, floats)], baseline,
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)
    assert sorted(tmp_path.rglob("*")) == before
    first, second = report.images
    assert first.band_choice.startswith("in order") and list(first.bands.values()) == list(range(1, 11))
    assert second.band_choice == "by name"
    assert second.bands == {"B2": 6, "B3": 10, "B4": 4, "B5": 12, "B6": 9, "B7": 13, "B8": 11, "B8A": 5,
                            "B11": 8, "B12": 2}
    assert first.scaling is None
    assert "SCALE=10000" in second.scaling
    assert first.crs == "EPSG:4326" and first.crs_units == "degree"
    assert first.pixel_size_m == pytest.approx((10.0, 10.0), rel=0.01)
    assert first.nodata_share == pytest.approx(0.25, abs=0.02)
    assert second.nodata_share == pytest.approx(0.25, abs=0.02)
    text = "\n".join(report.lines())
    for expected in ("SCALE=10000", "B2=6", "nodata 25", "EPSG:4326 in degree, pixel 10.0", "spectral_baseline on CPU",
                     "Estimated peak memory", "Estimated time"):
        assert expected in text
    assert json.loads(json.dumps(report.as_dict()))["images"][1]["bands"]["B2"] == 6


def test_pixel_size_of_a_utm_image(tmp_path, baseline):
    image = write_image(tmp_path / "Year2020.tif", random_scene(64, 80, seed=2), crs=CRS.from_epsg(32633),
                        transform=from_origin(500000, 5540000, 10, 10))
    (found,) = check_run([(2020, image)], baseline,
                         threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                         image_input=PLAIN_INPUT).images
    assert (found.crs, found.crs_units, found.pixel_size_m) == ("EPSG:32633", "metre", (10.0, 10.0))


def test_temporal_filter_and_min_area_add_their_passes(tmp_path, baseline):
    images = [(year, write_image(tmp_path / f"Year{year}.tif", random_scene(64, 80, seed=year)))
              for year in (2019, 2020, 2021)]
    plain = check_run(images, baseline,
                      threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                      image_input=PLAIN_INPUT).memory
    filtered = check_run(images, baseline, temporal_filter="smooth3", min_area_ha=0.5,
                         threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT).memory
    assert plain.temporal_filter == plain.min_area == 0
    assert filtered.temporal_filter > 0 and filtered.min_area > 0
    assert len(list(tmp_path.iterdir())) == 3
