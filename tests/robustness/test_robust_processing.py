"""Robustness matrix through real QGIS Processing (processing.run on the real algorithms): what a
user of the toolbox, a script or qgis_process meets. Every refused case raises a
QgsProcessingException naming the file and the problem, leaves the inputs byte-identical and no
file under any output name."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import QgsProcessingException, QgsProcessingFeedback
from rasterio.crs import CRS
from rasterio.transform import from_origin

from euromine_qgis.core.engine.devices import execution_providers
from tests.onnx_factory import BANDS, MEAN, STD, conv_model, with_external_data
from tests.rasters import random_scene, write_image, write_mask
from tests.robustness.outcome import refused

MAP = "euromine:mapfootprints"


def images(folder: Path, years=(2015, 2016), size=(40, 48), **kwargs) -> list[Path]:
    """Annual 10-band images ``Year{y}.tif`` in ``folder``."""
    return [write_image(folder / f"Year{y}.tif", random_scene(*size, seed=y), **kwargs) for y in years]


def footprints(folder: Path, years=(2015, 2016), size=(40, 48), name="footprint_{}.tif", **grid) -> list[Path]:
    """Random 0/1 masks with nodata 255, one per year."""
    rng = np.random.default_rng(sum(years))
    return [write_mask(folder / name.format(y), rng.integers(0, 2, size, dtype=np.uint8), 255, **grid) for y in years]


def mapping(inputs, out: Path, **extra) -> dict:
    # fp32, not auto: auto's verdict is timed on the machine, and an int8 run's probabilities compress
    # differently (the disk-full case needs outputs that do not fit)
    return {"IMAGES": [str(p) for p in inputs], "MODEL": "spectral_baseline", "PRECISION": "fp32",
            "OUTPUT_FOLDER": str(out), **extra}


# --- inputs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage, message", [
    ("missing", r"IMAGES: .*Year2016.tif: file does not exist"),
    ("not_a_raster", r"IMAGES: .*Year2016.tif: not a readable raster"),
    ("truncated", r"Year2016.tif: file is truncated: it holds \d+ bytes but its pixel data runs to byte \d+"),
    ("zero_size", r"IMAGES: .*Year2016.tif: file is empty \(0 bytes\)"),
    ("band_count", r"Year2016.tif: image has 4 band\(s\) but model 'spectral_baseline' expects 10"),
])
def test_mapfootprints_refuses_a_bad_image(euromine_provider, tmp_path, damage, message):
    good, bad = images(tmp_path / "in", size=(60, 70))
    if damage == "missing":
        bad.unlink()
    elif damage == "not_a_raster":
        bad.write_text("field notes")
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size * 2 // 3])
    elif damage == "zero_size":
        bad.write_bytes(b"")
    else:
        write_image(bad, random_scene(60, 70, bands=4))
    with refused(QgsProcessingException, message, [good, bad], [tmp_path / "out"]):
        processing.run(MAP, mapping([good, bad], tmp_path / "out"))


@pytest.mark.parametrize("alg, parameter", [
    ("euromine:changelayers", "FOOTPRINTS"), ("euromine:evaluate", "PREDICTIONS"), ("euromine:detectchange", "BEFORE"),
])
def test_every_algorithm_names_a_missing_or_unreadable_input(euromine_provider, tmp_path, alg, parameter):
    masks = footprints(tmp_path / "in")
    masks[0].write_text("not a raster")
    params = {
        "euromine:changelayers": {"FOOTPRINTS": [str(p) for p in masks], "OUTPUT_FOLDER": str(tmp_path / "out")},
        "euromine:evaluate": {"PREDICTIONS": [str(p) for p in masks], "REFERENCES": [str(p) for p in masks],
                              "TABLE": str(tmp_path / "out" / "t.csv")},
        "euromine:detectchange": {"METHOD": "footprints", "BEFORE": str(masks[0]), "AFTER": str(masks[1]),
                                  "CHANGE": str(tmp_path / "out" / "c.tif")},
    }[alg]
    with refused(QgsProcessingException, rf"{parameter}: .*footprint_2015.tif: not a readable raster", masks,
                 [tmp_path / "out"]):
        processing.run(alg, params)
    masks[0].unlink()
    with refused(QgsProcessingException, rf"{parameter}: .*footprint_2015.tif: file does not exist", masks[1:],
                 [tmp_path / "out"]):
        processing.run(alg, params)


def test_scene_all_nodata_gives_a_nodata_footprint_and_zero_area(euromine_provider, tmp_path):
    image = write_image(tmp_path / "in" / "Year2019.tif", np.zeros((10, 40, 48), np.int16), nodata=0)
    result = processing.run(MAP, mapping([image], tmp_path / "out"))
    assert result["AREA_HA"] == {"2019": 0.0}
    with rasterio.open(result["FOOTPRINTS"][0]) as src:
        assert (src.read(1) == 255).all()


# --- years -------------------------------------------------------------------------------------

def test_years_cases(euromine_provider, tmp_path):
    series = images(tmp_path / "in", years=(2015, 2016, 2017))
    out = tmp_path / "out"
    twin = write_image(tmp_path / "other" / "site_2016.tif", random_scene(40, 48))
    with refused(QgsProcessingException, r"year 2016 appears twice: .*Year2016.tif and .*site_2016.tif",
                 [*series, twin], [out]):
        processing.run(MAP, mapping([*series, twin], out))
    with refused(QgsProcessingException, r"no image for year\(s\) 2030; the inputs hold 2015, 2016, 2017",
                 series, [out]):
        processing.run(MAP, mapping(series, out, YEARS="2030"))
    with refused(QgsProcessingException, r"no image for year\(s\) 2018; the inputs hold 2015, 2016, 2017",
                 series, [out]):
        processing.run(MAP, mapping(series, out, YEARS="2015-2018"))
    with refused(QgsProcessingException, r"YEARS '2015\.\.2017': cannot read '2015\.\.2017'", series, [out]):
        processing.run(MAP, mapping(series, out, YEARS="2015..2017"))
    with refused(QgsProcessingException, r"no image for year\(s\) 2018; the inputs hold 2015, 2016, 2017",
                 series, [out]):
        processing.run("euromine:detectchange", {"SERIES": [str(p) for p in series], "BEFORE_YEAR": 2015,
                                                 "AFTER_YEAR": 2018, "CHANGE": str(out / "change.tif")})


def test_references_for_other_years(euromine_provider, tmp_path):
    predictions = footprints(tmp_path / "pred", years=(2015, 2016))
    references = footprints(tmp_path / "ref", years=(2020, 2021), name="Year{}.tif")
    with refused(QgsProcessingException, r"no year has both a prediction \(2015, 2016\) and a reference \(2020, 2021\)",
                 [*predictions, *references], [tmp_path / "out"]):
        processing.run("euromine:evaluate", {"PREDICTIONS": [str(p) for p in predictions],
                                             "REFERENCES": [str(p) for p in references],
                                             "TABLE": str(tmp_path / "out" / "metrics.csv")})


# --- grids -------------------------------------------------------------------------------------

ELSEWHERE = dict(crs=CRS.from_epsg(3035), transform=from_origin(4_500_000, 3_000_000, 10, 10))


def test_grid_mismatches_are_refused_with_the_gdalwarp_call(euromine_provider, tmp_path):
    masks = footprints(tmp_path / "in") + footprints(tmp_path / "odd", years=(2017,), **ELSEWHERE)
    out = tmp_path / "out"
    hint = r"align footprint_2017.tif to the grid of footprint_2015.tif with GDAL \(gdalwarp -t_srs EPSG:4326 -te "
    with refused(QgsProcessingException, r"footprint_2017.tif and .*footprint_2015.tif: footprints of different years "
                 r"lie on different grids \(CRS EPSG:3035 vs EPSG:4326.*" + hint, masks, [out]):
        processing.run("euromine:changelayers", {"FOOTPRINTS": [str(p) for p in masks], "OUTPUT_FOLDER": str(out)})
    reference = footprints(tmp_path / "ref", years=(2015,), name="Year{}.tif", **ELSEWHERE)[0]
    with refused(QgsProcessingException,
                 r"Year2015.tif and .*footprint_2015.tif: reference and prediction for year 2015 "
                 r"have the same size but a different CRS or transform \(CRS EPSG:3035 vs EPSG:4326.*\); align "
                 r"Year2015.tif to the grid of footprint_2015.tif with GDAL \(gdalwarp ", [*masks, reference], [out]):
        processing.run("euromine:evaluate", {"PREDICTIONS": [str(masks[0])], "REFERENCES": [str(reference)],
                                             "TABLE": str(out / "metrics.csv")})
    before, after = images(tmp_path / "a", years=(2016,))[0], images(tmp_path / "b", years=(2021,), **ELSEWHERE)[0]
    with refused(QgsProcessingException, r"Year2021.tif and .*Year2016.tif: the two images are not on the same grid "
                 r"\(CRS EPSG:3035 vs EPSG:4326.*align Year2021.tif to the grid of Year2016.tif",
                 [before, after], [out]):
        processing.run("euromine:detectchange", {"BEFORE": str(before), "AFTER": str(after),
                                                 "MODEL": "spectral_baseline", "CHANGE": str(out / "change.tif")})


# --- models ------------------------------------------------------------------------------------

def _not_onnx(folder: Path) -> Path:
    (folder / "model.onnx").write_text("not a model")
    return folder / "model.onnx"


def _truncated_onnx(folder: Path) -> Path:
    path = conv_model(folder / "model.onnx")
    path.write_bytes(path.read_bytes()[:300])
    return path


@pytest.mark.parametrize("build, message", [
    (_not_onnx, r"model.onnx: not a usable ONNX model"),
    (_truncated_onnx, r"model.onnx: not a usable ONNX model"),
    (lambda f: conv_model(f / "model.onnx", meta={}),
     r"model.onnx: the model carries no 'euromine' metadata with bands, mean and std; give them as algorithm "
     r"parameters \(BANDS, MEAN, STD\)"),
    (lambda f: conv_model(f / "model.onnx", in_channels=6), r"model.onnx: input 'image' takes 6 channels"),
    (lambda f: conv_model(f / "model.onnx", spatial_dims=1), r"model.onnx: input 'image' must be \(N, C, H, W\)"),
    (lambda f: conv_model(f / "model.onnx", out_channels=3), r"model.onnx: output shape \(\d+, 3, 64, 64\) does not "
                                                              r"match .*K = 2 \(classes background, mining\) or 1"),
    (lambda f: with_external_data(conv_model(f / "model.onnx"), f.parent / "weights.bin", "../weights.bin"),
     r"model.onnx: not a usable ONNX model \(.*External data path escapes model directory"),
], ids=["not_onnx", "truncated", "no_metadata", "channels", "rank", "output_shape", "external_data_outside"])
def test_mapfootprints_refuses_a_bad_model_file(euromine_provider, tmp_path, build, message):
    (tmp_path / "models").mkdir()
    model = build(tmp_path / "models")
    image = images(tmp_path / "in", years=(2019,), size=(100, 110))[0]
    with refused(QgsProcessingException, message, [image, model], [tmp_path / "out"]):
        processing.run(MAP, mapping([image], tmp_path / "out", MODEL_FILE=str(model), BATCH_SIZE=2))


def test_model_without_metadata_runs_with_bands_mean_std(euromine_provider, tmp_path):
    model = conv_model(tmp_path / "bare.onnx", meta={})
    image = images(tmp_path / "in", years=(2019,))[0]
    result = processing.run(MAP, mapping([image], tmp_path / "out", MODEL_FILE=str(model), BANDS=",".join(BANDS),
                                         MEAN=",".join(map(str, MEAN)), STD=",".join(map(str, STD))))
    assert result["MODEL_NAME"] == "bare" and Path(result["FOOTPRINTS"][0]).is_file()


def test_auto_device_runs_on_the_best_provider_that_loads_and_says_which(euromine_provider, tmp_path):
    feedback = QgsProcessingFeedback()
    result = processing.run(MAP, mapping(images(tmp_path / "in", years=(2019,)), tmp_path / "out", DEVICE="auto"),
                            feedback=feedback)
    assert result["PROVIDER"] == execution_providers("auto")[0]
    assert f"Execution provider: {result['PROVIDER']} on {result['DEVICE_NAME']}" in feedback.textLog()


# --- outputs -----------------------------------------------------------------------------------

def test_read_only_output_folder(euromine_provider, tmp_path, read_only_folder):
    image = images(tmp_path / "in", years=(2019,))[0]
    with refused(QgsProcessingException, r"read_only: output folder is not writable \(Read-only file system\)",
                 [image], [read_only_folder]):
        processing.run(MAP, mapping([image], read_only_folder))


def test_a_file_where_the_output_folder_should_be(euromine_provider, tmp_path):
    masks = footprints(tmp_path / "in")
    occupied = tmp_path / "out"
    occupied.write_text("not a folder")
    with refused(QgsProcessingException, r"out: is a file, not a folder", [*masks, occupied], [tmp_path / "in"]):
        processing.run("euromine:changelayers", {"FOOTPRINTS": [str(p) for p in masks], "OUTPUT_FOLDER": str(occupied)})


def test_outputs_equal_to_inputs_are_refused(euromine_provider, tmp_path):
    masks = footprints(tmp_path / "in")
    folder = [tmp_path / "in"]
    with refused(QgsProcessingException, r"footprint_2016.tif: output would overwrite an input; choose another TABLE "
                 r"or REPORT", masks, folder):
        processing.run("euromine:evaluate", {"PREDICTIONS": [str(p) for p in masks],
                                             "REFERENCES": [str(p) for p in masks], "TABLE": str(masks[1])})
    with refused(QgsProcessingException, r"footprint_2015.tif: output would overwrite an input; choose another "
                 r"OUTPUT_FOLDER, AREA_TABLE or TRAJECTORY", masks, folder):
        processing.run("euromine:changelayers", {"FOOTPRINTS": [str(p) for p in masks],
                                                 "OUTPUT_FOLDER": str(tmp_path / "o"), "AREA_TABLE": str(masks[0])})
    with refused(QgsProcessingException, r"footprint_2015.tif: output would overwrite an input; choose another name "
                 r"for CHANGE", masks, folder):
        processing.run("euromine:detectchange", {"METHOD": "footprints", "BEFORE": str(masks[0]),
                                                 "AFTER": str(masks[1]), "CHANGE": str(masks[0])})
    image = write_image(tmp_path / "in" / "footprint_2019.tif", random_scene(40, 48))
    with refused(QgsProcessingException, r"footprint_2019.tif: output would overwrite an input image", [*masks, image],
                 folder):
        processing.run(MAP, mapping([image], tmp_path / "in"))


def test_disk_full(euromine_provider, tmp_path, small_disk):
    image = images(tmp_path / "in", years=(2019,), size=(300, 320))[0]
    with refused(QgsProcessingException, r"_2019.tif: the disk holding .*small_disk is full \(\d+ KiB free\); free "
                 r"space there or choose another folder; nothing partial was kept", [image], [small_disk]):
        processing.run(MAP, mapping([image], small_disk, PROBABILITIES="float32"))


# --- cancellation ------------------------------------------------------------------------------

class CancelAtCheck(QgsProcessingFeedback):
    """A feedback whose user presses Cancel at the ``at``-th time the run checks for it (the
    engine checks at every batch of tiles); without ``at`` it only counts the checks."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__()
        self.at, self.checks = at, 0

    def isCanceled(self) -> bool:  # noqa: N802 (QGIS API)
        self.checks += 1
        if self.at is not None and self.checks >= self.at:
            self.cancel()
        return super().isCanceled()


@pytest.mark.parametrize("temporal_filter, seed", [("none", 11), ("none", 12), ("smooth3", 13)])
def test_cancel_at_a_random_tile(euromine_provider, tmp_path, temporal_filter, seed):
    series = images(tmp_path / "in", years=(2015, 2016, 2017), size=(150, 170))
    model = conv_model(tmp_path / "conv.onnx")  # 64-pixel patches: 9 tiles a year
    params = mapping(series, tmp_path / "full", MODEL_FILE=str(model), BATCH_SIZE=1, TEMPORAL_FILTER=temporal_filter)
    counting = CancelAtCheck()
    full = processing.run(MAP, params, feedback=counting)
    at = random.Random(seed).randint(1, counting.checks)
    out = tmp_path / "cancelled"
    with refused(QgsProcessingException, "the run was cancelled; no partial output was kept", [*series, model], []):
        processing.run(MAP, {**params, "OUTPUT_FOLDER": str(out)}, feedback=CancelAtCheck(at))
    kept = sorted(p.name for p in out.iterdir())  # hidden temporaries would show here too
    finished = [Path(p).name for p in full["FOOTPRINTS"]]
    assert kept == finished[: len(kept)], f"cancelled at check {at} of {counting.checks}: {kept}"
    if temporal_filter != "none":
        assert kept == []  # filtered years are written together, in one final pass
    for name in kept:
        with rasterio.open(out / name) as src, rasterio.open(tmp_path / "full" / name) as ref:
            np.testing.assert_array_equal(src.read(), ref.read())
