"""euromine:mapfootprints through real QGIS Processing (processing.run)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsDistanceArea,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
)

from tests.onnx_factory import conv_model

ALG = "euromine:mapfootprints"


def images_of(site: Path) -> list[str]:
    return sorted(str(p) for p in (site / "image").glob("Year*.tif"))


def geodesic_hectares(footprint: Path) -> float:
    """Mining area measured independently with QGIS's own ellipsoidal measurement."""
    da = QgsDistanceArea()
    da.setSourceCrs(QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance().transformContext())
    da.setEllipsoid("WGS84")
    with rasterio.open(footprint) as src:
        mask = src.read(1) == 1
        t = src.transform
    total = 0.0
    for row in np.flatnonzero(mask.any(axis=1)):
        top, bottom = t.f + t.e * row, t.f + t.e * (row + 1)
        x0, x1 = t.c, t.c + t.a
        ring = [QgsPointXY(x0, bottom), QgsPointXY(x1, bottom), QgsPointXY(x1, top), QgsPointXY(x0, top)]
        total += da.measureArea(QgsGeometry.fromPolygonXY([ring])) * mask[row].sum()
    return total / 1e4


def test_algorithm_is_registered(euromine_provider):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert alg is not None and alg.displayName() == "Map mining footprints"
    names = [p.name() for p in alg.parameterDefinitions()]
    for expected in ("IMAGES", "YEARS", "MODEL", "MODEL_FILE", "THRESHOLD", "OUTPUT_FOLDER", "DEVICE"):
        assert expected in names
    assert "spectral_baseline" in alg.parameterDefinition("MODEL").options()
    assert "spectral_baseline" in alg.shortHelpString()


def test_maps_every_year_on_the_input_grid(euromine_provider, sites, tmp_path):
    site = sites[1]
    images = images_of(site)
    before = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in images}
    result = processing.run(ALG, {"IMAGES": images, "MODEL": "spectral_baseline", "OUTPUT_FOLDER": str(tmp_path)})
    assert result["YEARS"] == list(range(2015, 2025))
    assert result["MODEL_NAME"] == "spectral_baseline" and result["PROVIDER"] == "CPUExecutionProvider"
    assert len(result["FOOTPRINTS"]) == 10
    for image, footprint in zip(images, result["FOOTPRINTS"], strict=True):
        year = footprint[-8:-4]
        assert Path(footprint) == tmp_path / f"footprint_{year}.tif" and year in image
        with rasterio.open(image) as src, rasterio.open(footprint) as out:
            assert out.crs == src.crs and out.transform == src.transform
            assert (out.width, out.height) == (src.width, src.height)
            values = set(np.unique(out.read(1)))
            assert values <= {0, 1, 255} and 1 in values
        assert result["AREA_HA"][year] == pytest.approx(geodesic_hectares(Path(footprint)), rel=1e-6)
    assert before == {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in images}


def test_years_selection_and_small_site(euromine_provider, sites, tmp_path):
    small = sites[0]
    with rasterio.open(images_of(small)[0]) as src:
        assert min(src.width, src.height) < 160
    result = processing.run(ALG, {"IMAGES": images_of(small), "YEARS": "2016, 2019-2020",
                                  "MODEL": "spectral_baseline", "OUTPUT_FOLDER": str(tmp_path)})
    assert result["YEARS"] == [2016, 2019, 2020]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "footprint_2016.tif", "footprint_2019.tif", "footprint_2020.tif"]


def test_own_model_file_overrides_model(euromine_provider, sites, tmp_path):
    own = conv_model(tmp_path / "own.onnx")
    result = processing.run(ALG, {"IMAGES": images_of(sites[2])[:2], "MODEL_FILE": str(own),
                                  "OUTPUT_FOLDER": str(tmp_path / "out")})
    assert result["MODEL_NAME"] == "test_conv" and len(result["FOOTPRINTS"]) == 2


def test_not_onnx_model_names_the_file(euromine_provider, sites, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_text("not onnx")
    with pytest.raises(QgsProcessingException, match=r"model.onnx: not a usable ONNX model"):
        processing.run(ALG, {"IMAGES": images_of(sites[0])[:1], "MODEL_FILE": str(fake),
                             "OUTPUT_FOLDER": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_band_count_mismatch_names_the_image(euromine_provider, tmp_path):
    from tests.rasters import random_scene, write_image

    img = write_image(tmp_path / "Year2021.tif", random_scene(50, 60, bands=4))
    with pytest.raises(QgsProcessingException,
                       match=r"Year2021.tif: image has 4 band\(s\) but model 'spectral_baseline' expects 10"):
        processing.run(ALG, {"IMAGES": [str(img)], "MODEL": "spectral_baseline", "OUTPUT_FOLDER": str(tmp_path / "o")})


def test_bad_years_text(euromine_provider, sites, tmp_path):
    with pytest.raises(QgsProcessingException, match="YEARS '2015 to 2017'"):
        processing.run(ALG, {"IMAGES": images_of(sites[0]), "YEARS": "2015 to 2017",
                             "MODEL": "spectral_baseline", "OUTPUT_FOLDER": str(tmp_path)})


def test_layers_load_styled_on_completion(euromine_provider, sites, tmp_path):
    context = QgsProcessingContext()
    project = QgsProject()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    result = processing.run(ALG, {"IMAGES": images_of(sites[0])[:2], "MODEL": "spectral_baseline",
                                  "OUTPUT_FOLDER": str(tmp_path)}, context=context, feedback=feedback)
    details = context.layersToLoadOnCompletion()
    assert sorted(details) == sorted(result["FOOTPRINTS"])
    for path, detail in details.items():
        layer = QgsRasterLayer(path, detail.name)
        assert layer.isValid()
        detail.postProcessor().postProcessLayer(layer, context, feedback)
        assert layer.renderer().type() == "paletted" and layer.renderer().opacity() == pytest.approx(0.6)
        assert detail.name.startswith("Footprint 20")


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_probabilities_option_and_device_report(euromine_provider, sites, tmp_path, dtype):
    context = QgsProcessingContext()
    project = QgsProject()  # kept alive: the context holds only a pointer to it
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    result = processing.run(ALG, {"IMAGES": images_of(sites[0])[:2], "MODEL": "spectral_baseline", "DEVICE": "cpu",
                                  "PROBABILITIES": dtype, "BATCH_SIZE": 0, "OUTPUT_FOLDER": str(tmp_path)},
                            context=context, feedback=feedback)
    assert [Path(p).name for p in result["PROBABILITY_RASTERS"]] == ["probability_2015.tif", "probability_2016.tif"]
    assert result["PROVIDER"] == "CPUExecutionProvider" and result["DEVICE_NAME"]
    for path in result["PROBABILITY_RASTERS"]:
        with rasterio.open(path) as src:
            assert src.dtypes[0] == dtype
        detail = context.layersToLoadOnCompletion()[path]
        layer = QgsRasterLayer(path, detail.name)
        detail.postProcessor().postProcessLayer(layer, context, feedback)
        assert layer.renderer().type() == "singlebandpseudocolor"
        shader = layer.renderer().shader().rasterShaderFunction()
        assert shader.maximumValue() == (255 if dtype == "uint8" else 1)


def test_explicit_cuda_without_gpu_is_a_clear_error(euromine_provider, sites, tmp_path):
    from euromine_qgis.core.engine.devices import CUDA, provider_loads

    if provider_loads(CUDA):
        pytest.skip("this machine has a usable GPU")
    with pytest.raises(QgsProcessingException,
                       match="DEVICE=cuda was asked for but onnxruntime cannot use CUDAExecutionProvider"):
        processing.run(ALG, {"IMAGES": images_of(sites[0])[:1], "MODEL": "spectral_baseline", "DEVICE": "cuda",
                             "OUTPUT_FOLDER": str(tmp_path)})


class LogFeedback(QgsProcessingFeedback):
    """Feedback that keeps the log lines."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def pushInfo(self, info):  # noqa: N802 (QGIS API)
        self.lines.append(info)
        super().pushInfo(info)


@pytest.mark.parametrize("overlap, expected", [
    (None, "tiles of 64 px overlapping by 7 px; the model's receptive field at a probability tolerance of 0.05 is "
           "3 px, so tiled output is within 0.05 of whole-scene inference"),
    ("exact", "tiles of 64 px overlapping by 11 px; the model's receptive field at a probability tolerance of 1e-06 "
              "is 5 px, so tiled output is within 1e-06 of whole-scene inference"),
    (4, "overlapping by 4 px, less than 2 × the model's 3-px receptive field + 1 = 7 px"),
])
def test_tile_overlap_defaults_to_the_models_receptive_field(euromine_provider, sites, tmp_path, overlap, expected):
    """TILE_OVERLAP left at auto follows the model's tolerant receptive field (here 3 px, so 7 px),
    exact its exact one (5 px, so 11 px); a smaller one is honoured and the log says what it trades."""
    from tests.onnx_factory import metadata, pooled_model

    meta = metadata(receptive_field=5, tolerant_receptive_field=3, alignment=2, patch_size=64)
    model = pooled_model(tmp_path / "pooled.onnx", meta=meta)
    params = {"IMAGES": images_of(sites[0])[:1], "MODEL_FILE": str(model), "DEVICE": "cpu",
              "OUTPUT_FOLDER": str(tmp_path / "out")}
    if overlap is not None:
        params["TILE_OVERLAP"] = overlap
    feedback = LogFeedback()
    processing.run(ALG, params, feedback=feedback)
    assert any(expected in line for line in feedback.lines), feedback.lines


@pytest.mark.parametrize("overlap", ["wide", "-3", "1.5"])
def test_tile_overlap_that_is_no_word_or_count_is_refused(euromine_provider, sites, tmp_path, overlap):
    params = {"IMAGES": images_of(sites[0])[:1], "MODEL": "spectral_baseline", "DEVICE": "cpu",
              "TILE_OVERLAP": overlap, "OUTPUT_FOLDER": str(tmp_path / "out")}
    with pytest.raises(QgsProcessingException, match=f"TILE_OVERLAP: expected auto, exact or a whole number of "
                                                     f"pixels >= 0, got '{overlap}'"):
        processing.run(ALG, params)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
