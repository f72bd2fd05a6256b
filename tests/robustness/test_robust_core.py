"""Robustness matrix, engine level (no QGIS): bad inputs, models, grids and outputs, faults and
cancellation. Every refused case names the file and the problem, leaves the inputs byte-identical
and nothing under any output name; every handled case checks what the handling produced."""
from __future__ import annotations

import random
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.windows import Window

from euromine_qgis.core.engine.bundled import MODELS_DIR, resolve_bundled
from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import Cancelled, InputError, ModelError, OutputError
from euromine_qgis.core.io.clip import clip_mosaic
from euromine_qgis.core.io.row_reader import RowReader
from euromine_qgis.core.maps.bitemporal import change_from_footprints, detect_change
from euromine_qgis.core.maps.change_layers import change_layers
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.progress import Reporter
from euromine_qgis.core.scoring.evaluation import evaluate_rasters
from tests.onnx_factory import conv_model, metadata, with_external_data
from tests.plain_run import PLAIN_INPUT
from tests.rasters import TRANSFORM, damaged_image, random_scene, write_image, write_mask
from tests.robustness.outcome import refused

TILES = TileSettings(tile=64, overlap=16, batch_size=2)


@pytest.fixture(scope="module")
def model(conv_onnx) -> Model:
    return Model(conv_onnx, device="cpu", scale=1.0)


def footprint_years(folder: Path, years, size=(40, 50), **grid) -> list[tuple[int, Path]]:
    """Random 0/1 footprints (nodata 255) of ``years`` in ``folder``."""
    rng = np.random.default_rng(1)
    return [(y, write_mask(folder / f"footprint_{y}.tif", rng.integers(0, 2, size, dtype=np.uint8), 255, **grid))
            for y in years]


# --- inputs ------------------------------------------------------------------------------------

def _missing(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def _not_a_raster(path: Path) -> None:
    _missing(path)
    path.write_text("field notes, not an image\n")


def _truncated(path: Path) -> None:
    write_image(path, random_scene(120, 130))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty(path: Path) -> None:
    _missing(path)
    path.write_bytes(b"")


def _four_bands(path: Path) -> None:
    write_image(path, random_scene(40, 48, bands=4))


@pytest.mark.parametrize("make, message", [
    (_missing, r"Year2019.tif: file does not exist"),
    (_not_a_raster, r"Year2019.tif: not a readable raster"),
    (_truncated, r"Year2019.tif: file is truncated: it holds \d+ bytes but its pixel data runs to byte \d+; "
                 r"copy or download the file again"),
    (_empty, r"Year2019.tif: file is empty \(0 bytes\)"),
    (_four_bands, r"Year2019.tif: image has 4 band\(s\) but model 'test_conv' expects 10 \(B2, B3"),
], ids=["missing", "not_a_raster", "truncated", "zero_size", "band_count"])
def test_bad_image_is_refused_before_any_output(tmp_path, model, make, message):
    image = tmp_path / "in" / "Year2019.tif"
    make(image)
    out = tmp_path / "out"
    with refused(InputError, message, [image], [out]):
        map_footprints([(2019, image)], model, out, settings=TILES,
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def _mapped(tmp_path: Path, model: Model, data: np.ndarray, nodata) -> tuple[np.ndarray, object]:
    image = write_image(tmp_path / "in" / "Year2019.tif", data, nodata=nodata)
    before = image.read_bytes()
    (result,) = map_footprints([(2019, image)], model, tmp_path / "out", settings=TILES,
                               threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert image.read_bytes() == before
    with rasterio.open(result.footprint) as src:
        return src.read(1), result


def test_float_input_nan_pixels_become_nodata(tmp_path, model):
    data = random_scene(70, 90, seed=3).astype(np.float32)
    data[2, 10:20, 30:45] = np.nan  # NaN in one band is enough
    data[:, 60, :] = np.nan
    footprint, result = _mapped(tmp_path, model, data, nodata=None)
    nodata = np.isnan(data).any(axis=0)
    np.testing.assert_array_equal(footprint == 255, nodata)
    assert set(np.unique(footprint[~nodata])) <= {0, 1}
    assert result.valid_pixels == int((~nodata).sum())


def test_negative_int16_values_are_data_not_nodata(tmp_path, model):
    data = random_scene(70, 90, seed=4)
    data[:, :35, :] -= 3000  # dark, partly negative surface reflectance: valid values
    assert (data < 0).any()
    data[:, 50:52, :] = -32768  # the declared nodata value
    footprint, result = _mapped(tmp_path, model, data, nodata=-32768)
    np.testing.assert_array_equal(footprint == 255, (data == -32768).any(axis=0))
    assert result.valid_pixels == 70 * 90 - 2 * 90


def test_scene_all_nodata_maps_to_nodata_with_zero_area(tmp_path, model):
    footprint, result = _mapped(tmp_path, model, np.zeros((10, 70, 90), np.int16), nodata=0)
    assert (footprint == 255).all()
    assert (result.mining_ha, result.mining_pixels, result.valid_pixels) == (0.0, 0, 0)


@pytest.fixture(params=[None, "ALL_CPUS"], ids=["default", "GDAL_NUM_THREADS=ALL_CPUS"])
def gdal_threads(request, monkeypatch):
    """GDAL's multi-threaded decoding, which users switch on for QGIS, only logs a damaged block:
    the plugin's reads must fail all the same."""
    if request.param:
        monkeypatch.setenv("GDAL_NUM_THREADS", request.param)


def test_mask_damaged_inside_the_file_is_named_with_the_rows(tmp_path, gdal_threads):
    """Not truncated, so the header check passes: a compressed block in the middle is garbage."""
    footprints = footprint_years(tmp_path / "in", [2015])
    damaged = write_mask(tmp_path / "in" / "footprint_2016.tif", np.ones((40, 50), np.uint8), 255, blocks=16,
                         compress="deflate")
    with rasterio.open(damaged) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    data = bytearray(damaged.read_bytes())
    data[offset:offset + 8] = b"\xff" * 8
    damaged.write_bytes(bytes(data))
    inputs = [footprints[0][1], damaged]
    with refused(InputError, r"footprint_2016.tif: cannot read rows 0–39; the file is damaged \(.*\) — copy or "
                 r"export it again", inputs, [tmp_path / "out"]):
        change_layers([*footprints, (2016, damaged)], [(2015, 2016)], tmp_path / "out",
                      temporal_filter="none", min_area_ha=0.0)


def test_image_damaged_inside_the_file_is_named_with_the_rows(tmp_path, model, gdal_threads):
    """The read fails in the engine's reader thread and comes out as an InputError naming the file and rows."""
    image = damaged_image(tmp_path / "in" / "Year2016.tif")
    with refused(InputError, r"Year2016.tif: cannot read rows 0–39; the file is damaged \(.*\) — copy or "
                 r"export it again", [image], [tmp_path / "out"]):
        map_footprints([(2016, image)], model, tmp_path / "out", settings=TILES,
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def test_mosaic_damaged_inside_the_file_is_named_with_the_rows(tmp_path, gdal_threads):
    """Cutting a site out of a mosaic reads strictly too, whatever GDAL_NUM_THREADS says."""
    mosaic = damaged_image(tmp_path / "in" / "Year2016.tif")
    (tmp_path / "out").mkdir()
    with rasterio.open(mosaic) as src:
        west, south, east, north = src.bounds
    outline = {"type": "Polygon", "coordinates": [[(west, south), (east, south), (east, north), (west, north),
                                                   (west, south)]]}
    with refused(InputError, r"Year2016.tif: cannot read rows 0–39; the file is damaged \(.*\) — copy or "
                 r"export it again", [mosaic], [tmp_path / "out"]):
        clip_mosaic(mosaic, outline, "EPSG:4326", tmp_path / "out" / "Year2016.tif")


@pytest.mark.slow
def test_damaged_block_while_other_pieces_decode(tmp_path):
    """One decoding thread fails while the others still read: the error waits for them, so no
    handle is closed under a read in flight (that crashed the process within a few hundred runs)."""
    image = damaged_image(tmp_path / "Year2016.tif")
    with rasterio.open(image) as src, ThreadPoolExecutor(4) as pool:
        for _ in range(300):
            reader = RowReader(src, 40, pool=pool, pieces=4)
            try:
                with pytest.raises(InputError, match="cannot read rows 0–39"):
                    reader.read(Window(0, 0, 50, 40))
            finally:
                reader.close()


# --- grids -------------------------------------------------------------------------------------

GRIDS = {
    "crs": dict(crs=CRS.from_epsg(3035), transform=from_origin(4_500_000, 3_000_000, 10, 10)),
    "resolution": dict(transform=from_origin(15.0, 50.0, TRANSFORM.a * 2, -TRANSFORM.e * 2)),
    "extent": dict(transform=from_origin(15.01, 50.0, TRANSFORM.a, -TRANSFORM.e)),
}
DIFFERENCE = {"crs": r"CRS EPSG:3035 vs EPSG:4326", "resolution": r"pixel size", "extent": r"extent \["}


def run_hint(message: str) -> Path:
    """Run the gdalwarp call an error message gives; return the aligned file it writes."""
    if shutil.which("gdalwarp") is None:
        pytest.skip("gdalwarp (gdal-bin) is not installed")
    command = shlex.split(message.split("with GDAL (", 1)[1].split(", or QGIS", 1)[0])
    subprocess.run(command, check=True, capture_output=True)
    return Path(command[-1])


@pytest.mark.parametrize("differs", GRIDS)
def test_changelayers_refuses_years_on_different_grids_and_says_how_to_align(tmp_path, differs):
    footprints = footprint_years(tmp_path / "in", [2015, 2016])
    odd = footprint_years(tmp_path / "odd", [2017], **GRIDS[differs])
    inputs = [p for _, p in footprints + odd]
    with refused(InputError, rf"footprint_2017.tif and .*footprint_2015.tif: footprints of different years lie on "
                 rf"different grids \(.*{DIFFERENCE[differs]}.*\); every year must share one grid: align "
                 r"footprint_2017.tif to the grid of footprint_2015.tif with GDAL "
                 r"\(gdalwarp -t_srs EPSG:4326 .*-r near",
                 inputs, [tmp_path / "out"]) as caught:
        change_layers(footprints + odd, [(2015, 2017)], tmp_path / "out", temporal_filter="none", min_area_ha=0.0)
    aligned = run_hint(str(caught.value))
    result = change_layers(footprints + [(2017, aligned)], [(2015, 2017)], tmp_path / "out",
                           temporal_filter="none", min_area_ha=0.0)
    assert result.change[(2015, 2017)].is_file()


@pytest.mark.parametrize("differs", GRIDS)
def test_evaluate_refuses_a_reference_on_another_grid_and_says_how_to_align(tmp_path, differs):
    (year, prediction), = footprint_years(tmp_path / "pred", [2020])
    (_, reference), = footprint_years(tmp_path / "ref", [2020], **GRIDS[differs])
    reference = reference.rename(reference.with_name("Year2020.tif"))
    with refused(InputError, r"Year2020.tif.*footprint_2020.tif.*align Year2020.tif to the grid of footprint_2020.tif "
                 r"with GDAL \(gdalwarp ", [prediction, reference], [tmp_path / "ref"]) as caught:
        evaluate_rasters({year: prediction}, {year: reference})
    aligned = run_hint(str(caught.value))
    assert evaluate_rasters({year: prediction}, {year: aligned}).years == [2020]


def test_evaluate_label_without_crs_of_another_size_cannot_be_warped(tmp_path):
    (year, prediction), = footprint_years(tmp_path / "pred", [2020])
    label = write_mask(tmp_path / "Year2020.tif", np.zeros((41, 50), np.uint8), None, crs=None)
    with refused(InputError, r"Year2020.tif \(50 × 41 px\) does not match the grid of "
                 r".*footprint_2020.tif \(50 × 40 px\) for year 2020; "
                 r"a raster without CRS cannot be warped: Year2020.tif must have 50 × 40 pixels",
                 [prediction, label], []):
        evaluate_rasters({year: prediction}, {year: label})


def test_detectchange_refuses_dates_on_different_grids_and_says_how_to_align(tmp_path, model):
    before = write_image(tmp_path / "Year2016.tif", random_scene(40, 48, seed=1))
    after = write_image(tmp_path / "Year2021.tif", random_scene(40, 48, seed=2), **GRIDS["resolution"])
    with refused(InputError, r"Year2021.tif and .*Year2016.tif: the two images are not on the same grid \(pixel size "
                 r".*\); align Year2021.tif to the grid of Year2016.tif with GDAL \(gdalwarp .*-r bilinear",
                 [before, after], [tmp_path / "out"]):
        detect_change(before, after, tmp_path / "out" / "change.tif", model, settings=TILES,
                      threshold=0.5, image_input=PLAIN_INPUT)


@pytest.mark.parametrize("differs", GRIDS)
def test_temporal_filter_refuses_years_on_different_grids_and_says_how_to_align(tmp_path, model, differs):
    first = write_image(tmp_path / "in" / "Year2015.tif", random_scene(40, 48, seed=1))
    second = write_image(tmp_path / "in" / "Year2016.tif", random_scene(40, 48, seed=2), **GRIDS[differs])
    with refused(InputError, rf"Year2016.tif and .*Year2015.tif: images of different years lie on different grids "
                 rf"\(.*{DIFFERENCE[differs]}.*\); a series model or temporal filter needs every year on one grid: "
                 r"align Year2016.tif to the grid of Year2015.tif with GDAL \(gdalwarp .*-r bilinear",
                 [first, second], [tmp_path / "out"]) as caught:
        map_footprints([(2015, first), (2016, second)], model, tmp_path / "out", settings=TILES,
                             temporal_filter="smooth3", threshold=0.5, min_area_ha=0.0, image_input=PLAIN_INPUT)
    aligned = run_hint(str(caught.value))
    results = map_footprints([(2015, first), (2016, aligned)], model, tmp_path / "out", settings=TILES,
                                   temporal_filter="smooth3", threshold=0.5, min_area_ha=0.0, image_input=PLAIN_INPUT)
    assert [r.year for r in results] == [2015, 2016]


def test_mapping_without_filter_keeps_each_years_own_grid(tmp_path, model):
    first = write_image(tmp_path / "in" / "Year2015.tif", random_scene(40, 48, seed=1))
    second = write_image(tmp_path / "in" / "Year2016.tif", random_scene(30, 48, seed=2), **GRIDS["crs"])
    results = map_footprints([(2015, first), (2016, second)], model, tmp_path / "out", settings=TILES,
                             threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    for image, result in zip((first, second), results, strict=True):
        with rasterio.open(image) as src, rasterio.open(result.footprint) as out:
            assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)


# --- models ------------------------------------------------------------------------------------

@pytest.mark.parametrize("build, message", [
    (lambda p: conv_model(p, spatial_dims=1), r"bad.onnx: input 'image' must be \(N, C, H, W\), the model declares "
                                              r"\['N', 10, 'H'\]"),
    (lambda p: conv_model(p, in_channels=4), r"bad.onnx: input 'image' takes 4 channels but the metadata's 10 bands"),
], ids=["input_rank", "input_channels"])
def test_model_with_the_wrong_input_is_refused_on_loading(tmp_path, build, message):
    path = build(tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match=message):
        Model(path, device="cpu", scale=1.0)


@pytest.mark.parametrize("build, message", [
    (lambda p: conv_model(p, out_channels=3),
     r"output shape \(2, 3, 64, 64\) does not match .*; "
     r"expected \(N, K, H, W\) with K = 2 \(classes background, mining\) or 1"),
    (lambda p: conv_model(p, stride=2), r"output shape \(2, 2, 32, 32\) does not match .*64, 64\)"),
], ids=["classes", "smaller"])
def test_model_output_of_unexpected_shape_fails_the_run_and_leaves_nothing(tmp_path, build, message):
    model = Model(build(tmp_path / "bad.onnx"), device="cpu", scale=1.0)
    image = write_image(tmp_path / "in" / "Year2019.tif", random_scene(100, 120))
    with refused(ModelError, r"bad.onnx: " + message, [image], [tmp_path / "out"]):
        map_footprints([(2019, image)], model, tmp_path / "out", settings=TILES,
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def test_single_channel_probability_output_is_the_mining_probability(tmp_path):
    path = conv_model(tmp_path / "p.onnx", out_channels=1, meta=metadata(output="probabilities"))
    model = Model(path, device="cpu", scale=1.0)
    x = np.random.default_rng(0).normal(size=(2, 10, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(model.positive_probability(x), model.session.run(None, {"image": x})[0][:, 0])


@pytest.mark.parametrize("location, message", [
    ("../weights.bin", r"External data path escapes model directory"),
    ("ABSOLUTE", r"Absolute path not allowed for external data location"),
    ("link.bin", r"External data path escapes model directory"),
], ids=["parent", "absolute", "link"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location, message):
    folder = tmp_path / "models"
    folder.mkdir()
    weights = tmp_path / "weights.bin"
    if location == "link.bin":
        (folder / "link.bin").symlink_to(weights)
    path = with_external_data(conv_model(folder / "model.onnx"), weights,
                              str(weights) if location == "ABSOLUTE" else location)
    with pytest.raises(ModelError, match=rf"model.onnx: not a usable ONNX model \(.*{message}"):
        Model(path, device="cpu", scale=1.0)


def test_external_data_inside_the_model_folder_loads(tmp_path):
    path = with_external_data(conv_model(tmp_path / "model.onnx"), tmp_path / "weights.bin", "weights.bin")
    assert Model(path, device="cpu", scale=1.0).info.name == "test_conv"


def test_bundled_model_whose_sha256_no_longer_matches_is_refused(tmp_path):
    copy = shutil.copytree(MODELS_DIR, tmp_path / "models_onnx")
    assert resolve_bundled("spectral_baseline", copy) == copy / "spectral_baseline.onnx"
    damaged = bytearray((copy / "spectral_baseline.onnx").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (copy / "spectral_baseline.onnx").write_bytes(bytes(damaged))
    with pytest.raises(ModelError, match=r"spectral_baseline.onnx: sha256 [0-9a-f]{64} does not match models.json "
                                         r"\([0-9a-f]{64}\); the bundled model was modified or damaged — reinstall"):
        resolve_bundled("spectral_baseline", copy)


# --- outputs -----------------------------------------------------------------------------------

def test_read_only_output_folder_is_refused(tmp_path, model, read_only_folder):
    image = write_image(tmp_path / "in" / "Year2019.tif", random_scene(40, 48))
    with refused(OutputError, r"read_only: output folder is not writable \(Read-only file system\); choose another",
                 [image], [read_only_folder]):
        map_footprints([(2019, image)], model, read_only_folder, settings=TILES,
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def test_a_file_where_the_output_folder_should_be_is_refused(tmp_path, model):
    image = write_image(tmp_path / "in" / "Year2019.tif", random_scene(40, 48))
    occupied = tmp_path / "out"
    occupied.write_text("a file")
    with refused(OutputError, r"out: is a file, not a folder", [image, occupied], []):
        map_footprints([(2019, image)], model, occupied, settings=TILES,
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def test_outputs_may_not_replace_inputs(tmp_path, model):
    footprints = footprint_years(tmp_path, [2015, 2016])
    inputs = [p for _, p in footprints]
    with refused(OutputError, r"footprint_2015.tif: output would overwrite an input; choose another OUTPUT_FOLDER"
                 r", AREA_TABLE or TRAJECTORY", inputs, [tmp_path]):
        change_layers(footprints, [(2015, 2016)], tmp_path / "out", table=inputs[0],
                      temporal_filter="none", min_area_ha=0.0)
    with refused(OutputError, r"footprint_2016.tif: output would overwrite an input; choose another name for CHANGE",
                 inputs, [tmp_path]):
        change_from_footprints(inputs[0], inputs[1], inputs[1])
    image = write_image(tmp_path / "out" / "footprint_2019.tif", random_scene(40, 48))
    with refused(OutputError, r"footprint_2019.tif: output would overwrite an input image", [image], [tmp_path]):
        map_footprints([(2019, image)], model, tmp_path / "out", settings=TILES,
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


DISK_FULL = r"the disk holding .*small_disk is full \(\d+ KiB free\); free space there or choose another folder; " \
            r"nothing partial was kept"


def test_disk_full_while_mapping(tmp_path, model, small_disk):
    image = write_image(tmp_path / "in" / "Year2019.tif", random_scene(300, 320))
    with refused(OutputError, r"(footprint|probability)_2019.tif: " + DISK_FULL, [image], [small_disk]):
        map_footprints([(2019, image)], model, small_disk, settings=TILES, probabilities="float32",
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)


def test_disk_full_while_deriving_change_layers(tmp_path, small_disk):
    footprints = footprint_years(tmp_path / "in", range(2015, 2025), size=(300, 320))
    with refused(OutputError, DISK_FULL, [p for _, p in footprints], [small_disk]):
        change_layers(footprints, [(a, b) for a in range(2015, 2025) for b in range(a + 1, 2025)], small_disk,
                      temporal_filter="none", min_area_ha=0.0)


def test_disk_full_when_the_file_is_flushed_on_close(tmp_path, small_disk):
    """One window writes the whole raster, so GDAL's only write is the flush on close, whose failure
    GDAL logs without raising: the check of the finished file must catch it."""
    rng = np.random.default_rng(5)
    before = write_mask(tmp_path / "footprint_2015.tif", rng.integers(0, 2, (700, 700), dtype=np.uint8), 255)
    after = write_mask(tmp_path / "footprint_2016.tif", rng.integers(0, 2, (700, 700), dtype=np.uint8), 255)
    (small_disk / "filler").write_bytes(rng.bytes(200 * 1024))
    with refused(OutputError, r"change.tif: " + DISK_FULL, [before, after], [small_disk]):
        change_from_footprints(before, after, small_disk / "change.tif")


# --- cancellation ------------------------------------------------------------------------------

class CancelAt:
    """A caller that asks to stop at its ``at``-th check (the engine checks at every tile batch)."""

    def __init__(self, at: int | None = None) -> None:
        self.at, self.calls = at, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.at is not None and self.calls >= self.at


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cancel_at_a_random_tile_keeps_only_finished_years(tmp_path, model, seed):
    images = [(y, write_image(tmp_path / "in" / f"Year{y}.tif", random_scene(150, 170, seed=y)))
              for y in (2015, 2016, 2017)]
    counting = CancelAt()
    full = map_footprints(images, model, tmp_path / "full", settings=TILES, reporter=Reporter(is_canceled=counting),
                          threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    at = random.Random(seed).randint(1, counting.calls)
    out = tmp_path / "cancelled"
    with refused(Cancelled, "the run was cancelled; no partial output was kept", [p for _, p in images], []):
        map_footprints(images, model, out, settings=TILES, reporter=Reporter(is_canceled=CancelAt(at)),
                       threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    kept = sorted(p.name for p in out.iterdir())
    assert kept == [r.footprint.name for r in full][: len(kept)], f"cancelled at check {at}: {kept}"
    for name in kept:  # the years finished before the cancellation, whole
        with rasterio.open(out / name) as src, rasterio.open(tmp_path / "full" / name) as ref:
            assert src.profile == ref.profile
            np.testing.assert_array_equal(src.read(), ref.read())
