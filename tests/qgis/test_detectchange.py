"""euromine:detectchange through processing.run on a generated site."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject, QgsRasterLayer

from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.maps.bitemporal import change_from_footprints, detect_change
from tests.onnx_factory import change_model
from tests.plain_run import AUTO_TILES, PLAIN_INPUT

ALG = "euromine:detectchange"


def images(site: Path) -> list[str]:
    return sorted(str(p) for p in (site / "image").glob("Year*.tif"))


def test_series_post_classification_equals_core(euromine_provider, sites, tmp_path):
    context = QgsProcessingContext()
    project = QgsProject()  # kept alive: the context holds only a pointer to it
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    result = processing.run(ALG, {"SERIES": images(sites[1]), "BEFORE_YEAR": 2016, "AFTER_YEAR": 2022,
                                  "METHOD": "post_classification", "MODEL": "spectral_baseline",
                                  "PRECISION": "fp32",  # the core's model below: auto's verdict is timed here
                                  "CHANGE": str(tmp_path / "change.tif")}, context=context, feedback=feedback)
    assert result["METHOD"] == "post_classification" and result["BEFORE"].endswith("Year2016.tif")
    core = detect_change(Path(result["BEFORE"]), Path(result["AFTER"]), tmp_path / "core.tif",
                         Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0),
                         threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    assert result["GAIN_HA"] == pytest.approx(core.gain_ha) and result["LOSS_HA"] == pytest.approx(core.loss_ha)
    assert result["NET_HA"] == pytest.approx(core.gain_ha - core.loss_ha)
    with rasterio.open(result["CHANGE"]) as a, rasterio.open(tmp_path / "core.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    detail = context.layersToLoadOnCompletion()[result["CHANGE"]]
    layer = QgsRasterLayer(result["CHANGE"], detail.name)
    detail.postProcessor().postProcessLayer(layer, context, feedback)
    assert layer.renderer().type() == "paletted"


def test_change_model_and_footprints_methods(euromine_provider, sites, tmp_path):
    site = images(sites[0])
    cm = change_model(tmp_path / "change.onnx")
    result = processing.run(ALG, {"BEFORE": site[0], "AFTER": site[5], "METHOD": "change_model",
                                  "MODEL": "spectral_baseline", "CHANGE_MODEL_FILE": str(cm),
                                  "CHANGE": str(tmp_path / "by_model.tif")})
    assert result["METHOD"] == "change_model" and result["GAIN_HA"] + result["LOSS_HA"] > 0
    footprints = processing.run("euromine:mapfootprints", {"IMAGES": [site[0], site[5]], "MODEL": "spectral_baseline",
                                                           "OUTPUT_FOLDER": str(tmp_path / "fp")})["FOOTPRINTS"]
    result = processing.run(ALG, {"BEFORE": footprints[0], "AFTER": footprints[1], "METHOD": "footprints",
                                  "CHANGE": str(tmp_path / "from_fp.tif")})
    core = change_from_footprints(Path(footprints[0]), Path(footprints[1]), tmp_path / "core_fp.tif")
    assert result["GAIN_HA"] == pytest.approx(core.gain_ha) and result["LOSS_HA"] == pytest.approx(core.loss_ha)


def test_clear_errors(euromine_provider, sites, tmp_path):
    with pytest.raises(QgsProcessingException, match="give BEFORE and AFTER, or a SERIES"):
        processing.run(ALG, {"BEFORE": images(sites[0])[0], "CHANGE": str(tmp_path / "c.tif")})
    with pytest.raises(QgsProcessingException, match="a change model is needed here, this one's task is 'footprint'"):
        processing.run(ALG, {"SERIES": images(sites[0]), "BEFORE_YEAR": 2015, "AFTER_YEAR": 2016,
                             "METHOD": "change_model", "MODEL": "spectral_baseline",
                             "CHANGE_MODEL_FILE": str(resolve_bundled("spectral_baseline")),
                             "CHANGE": str(tmp_path / "c.tif")})
    with pytest.raises(QgsProcessingException, match=r"no image for year\(s\) 2030"):
        processing.run(ALG, {"SERIES": images(sites[0]), "BEFORE_YEAR": 2015, "AFTER_YEAR": 2030,
                             "MODEL": "spectral_baseline", "CHANGE": str(tmp_path / "c.tif")})
    assert not (tmp_path / "c.tif").exists()
