"""SCALE and the scaling check (core/engine/scaling.py) on real files, with the bundled
spectral_baseline model run by onnxruntime."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling

from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.contract import NormalizationOverride, normalize_in_place
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.scaling import SAMPLE_BLOCKS, ImageInput, band_medians, check_inputs, scaled_info
from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.bands import banded_image
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.progress import Reporter
from export.synthetic import generate_site
from tests.band_stacks import reflectance_copy
from tests.plain_run import AUTO_TILES
from tests.rasters import write_image

YEAR = 2018
# Footprints of a float 0–1 copy with SCALE=10000 may differ from the int16 original only where
# the original's probability lies this close to THRESHOLD (float32 rounding of the folded mean/std).
ROUNDING = 1e-3


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    site = generate_site(tmp_path_factory.mktemp("scaling"), "Pit", seed=5, size=(210, 260), years=[YEAR])
    return site / "image" / f"Year{YEAR}.tif"


@pytest.fixture(scope="module")
def bundled() -> Path:
    return resolve_bundled("spectral_baseline")


def _warnings(path: Path, model: Model, scale: float = 1.0) -> list[str]:
    warned: list[str] = []
    check_inputs([banded_image(path, model.info.bands)], model.info, scale, Reporter(warning=warned.append))
    return warned


def _run(path: Path, model: Model, out: Path, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Footprint and float32 probability of a real run, and its warnings."""
    warned: list[str] = []
    (result,) = map_footprints([(YEAR, path)], model, out, probabilities="float32",
                               reporter=Reporter(warning=warned.append), image_input=ImageInput(scale=scale),
                               threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0)
    with rasterio.open(result.footprint) as fp, rasterio.open(result.probability) as pr:
        return fp.read(1), pr.read(1), warned


def test_folding_scale_into_mean_and_std_equals_scaling_the_input():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 0.6, (2, 3, 8, 8)).astype(np.float32)
    mean, std, scale = (1000.0, 900.0, 2000.0), (250.0, 300.0, 550.0), 10000.0
    scaled = normalize_in_place(np.ascontiguousarray(raw * np.float32(scale)), mean, std)
    folded = normalize_in_place(raw.copy(), [m / scale for m in mean], [s / scale for s in std])
    np.testing.assert_allclose(folded, scaled, atol=1e-4)


def test_scale_must_be_positive(bundled):
    info = Model(bundled, device="cpu", scale=1.0).info
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="SCALE .* must be a positive number"):
            scaled_info(info, bad)


def test_float_reflectance_with_scale_maps_as_the_int16_original(image, bundled, tmp_path):
    model = Model(bundled, device="cpu", scale=1.0)
    scaled = Model(bundled, device="cpu", scale=10000.0)
    copy = reflectance_copy(image, tmp_path / f"Year{YEAR}.tif")
    footprint, probability, warned = _run(image, model, tmp_path / "int16")
    float_footprint, float_probability, float_warned = _run(copy, scaled, tmp_path / "float", 10000.0)
    assert warned == [] and float_warned == []
    valid = footprint != 255
    np.testing.assert_array_equal(float_footprint == 255, ~valid)
    differ = footprint != float_footprint
    assert np.all(np.abs(probability[differ] - 0.5) < ROUNDING)
    assert np.abs(float_probability[valid] - probability[valid]).max() < ROUNDING
    assert 0 < np.count_nonzero(footprint == 1)


def test_float_reflectance_without_scale_warns_with_the_factor(image, bundled, tmp_path):
    model = Model(bundled, device="cpu", scale=1.0)
    copy = reflectance_copy(image, tmp_path / f"Year{YEAR}.tif")
    (warning,) = _warnings(copy, model)
    assert str(copy) in warning and "10000 times smaller" in warning and warning.endswith("set SCALE=10000")
    # the footprints of such a run are still written: a warning, not an error
    footprint, _, warned = _run(copy, model, tmp_path / "out")
    assert warned == [warning] and footprint.shape == (210, 260)


def test_int16_data_for_a_0_1_model_warns_the_other_way(image, bundled):
    model = Model(bundled, device="cpu", scale=1.0)
    info = model.info
    unit = Model(bundled, device="cpu", override=NormalizationOverride(
        mean=tuple(m / 10000 for m in info.mean), std=tuple(s / 10000 for s in info.std)), scale=1.0)
    (warning,) = _warnings(image, unit)
    assert "10000 times larger" in warning and warning.endswith("set SCALE=0.0001")
    assert _warnings(image, model) == []


def test_a_band_far_from_the_training_data_is_named(image, bundled, tmp_path):
    with rasterio.open(image) as src:
        data, profile, names = src.read(), src.profile, src.descriptions
    data[2] = np.clip(data[2].astype(np.int32) * 8, 0, 32767)  # B4 eight times too bright
    odd = tmp_path / "odd.tif"
    with rasterio.open(odd, "w", **profile) as dst:
        dst.write(data)
        for index, name in enumerate(names, start=1):
            dst.set_band_description(index, name)
    (warning,) = _warnings(odd, Model(bundled, device="cpu", scale=1.0))
    assert "median z-score beyond ±4: B4 +" in warning and "B3" not in warning.split("±4:")[1]


@pytest.mark.slow
def test_the_sample_comes_from_an_overview_when_there_is_one(image, bundled, tmp_path):
    """Overviews built from the data, then the full-resolution pixels made 5× brighter: the
    check's medians follow the overview, so it never decoded the full resolution."""
    big = tmp_path / "big.tif"
    with rasterio.open(image) as src:
        data, profile = src.read(), src.profile
    data = np.tile(data, (1, 6, 6))
    profile.update(height=data.shape[1], width=data.shape[2], tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(big, "w", **profile) as dst:
        dst.write(data)
        dst.build_overviews([4, 8], Resampling.nearest)
    model = Model(bundled, device="cpu", scale=1.0)
    banded = banded_image(big, model.info.bands)
    from_overview = band_medians(banded)
    with rasterio.open(big, "r+") as dst:
        dst.write(np.clip(data.astype(np.int32) * 5, 0, 32767).astype(np.int16))
    assert np.array_equal(band_medians(banded), from_overview)
    with rasterio.open(big) as src:  # the full resolution did change
        first = src.read(banded.indexes[0])
        assert np.median(first[first != 0]) > 2 * from_overview[0]


def _bytes_read() -> int:
    """Bytes this process has read through read(2) and its kind so far (Linux's /proc/self/io)."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="counts bytes read through Linux's /proc/self/io")
def test_a_large_image_without_overviews_is_sampled_by_a_bounded_number_of_blocks(tmp_path):
    """A 3072² image of 144 DEFLATE blocks and no overviews: the check reads about SAMPLE_BLOCKS
    blocks' worth of the file (a decimated read decoded all of it), and its medians still are the
    image's."""
    side, block = 3072, 256
    values = np.random.default_rng(3).integers(1000, 3000, (1, side, side), dtype=np.uint16)
    big = write_image(tmp_path / "big.tif", values, crs="EPSG:32632",
                      transform=rasterio.transform.from_origin(500_000, 4_500_000, 10, 10), tiled=True,
                      blockxsize=block, blockysize=block, compress="deflate")
    banded = banded_image(big, ("B4",))
    per_block = big.stat().st_size / (side // block) ** 2
    before = _bytes_read()
    medians = band_medians(banded)
    read = _bytes_read() - before
    assert medians is not None
    assert read <= (SAMPLE_BLOCKS + 1) * per_block + 2**16, f"{read} bytes read, {per_block:.0f} per block"
    np.testing.assert_allclose(medians, np.median(values, axis=(1, 2)), rtol=0.01)
