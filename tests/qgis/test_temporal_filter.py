"""TEMPORAL_FILTER of euromine:mapfootprints and euromine:changelayers through real Processing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from qgis import processing
from rasterio.windows import Window

from euromine_qgis.core.io.masks import inspect_mask, read_stack
from euromine_qgis.core.maps.change_layers import summarise_window

YEARS = list(range(2015, 2025))


def transitions_of(footprints: list[str]) -> int:
    """Total on/off switches between consecutive valid years over all pixels."""
    infos = [inspect_mask(Path(p)) for p in sorted(footprints)]
    grid = infos[0].grid
    mined, valid = read_stack(infos, Window(0, 0, grid.width, grid.height))
    flicker = summarise_window(mined, valid, YEARS)["transitions"]
    return int(flicker[valid.any(axis=0)].sum())


@pytest.mark.slow
def test_mapfootprints_filter_keeps_the_grid_leaves_no_temporaries_and_flickers_less(euromine_provider, sites,
                                                                                     tmp_path):
    images = sorted(str(p) for p in (sites[1] / "image").glob("Year*.tif"))
    common = {"IMAGES": images, "MODEL": "spectral_baseline", "DEVICE": "cpu"}
    plain = processing.run("euromine:mapfootprints", {**common, "OUTPUT_FOLDER": str(tmp_path / "plain")})
    out = tmp_path / "smooth"
    result = processing.run("euromine:mapfootprints", {**common, "OUTPUT_FOLDER": str(out),
                                                       "TEMPORAL_FILTER": "smooth3", "PROBABILITIES": "float32"})
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"footprint_{y}.tif" for y in YEARS] + [f"probability_{y}.tif" for y in YEARS])
    assert result["FOOTPRINTS"] == [str(out / f"footprint_{y}.tif") for y in YEARS]
    for image, footprint, probability in zip(images, result["FOOTPRINTS"], result["PROBABILITY_RASTERS"], strict=True):
        with rasterio.open(image) as src, rasterio.open(footprint) as fp, rasterio.open(probability) as pr:
            for dst in (fp, pr):
                assert (dst.crs, dst.transform, dst.shape) == (src.crs, src.transform, src.shape)
            mask = fp.read(1)
            assert set(np.unique(mask)) <= {0, 1, 255}
            # nodata where (and only where) the image is nodata, as without a filter
            with rasterio.open(plain["FOOTPRINTS"][images.index(image)]) as unfiltered:
                np.testing.assert_array_equal(mask == 255, unfiltered.read(1) == 255)
            np.testing.assert_array_equal(mask == 1, pr.read(1) >= 0.5)
    assert transitions_of(result["FOOTPRINTS"]) < transitions_of(plain["FOOTPRINTS"])
    assert result["AREA_HA"].keys() == plain["AREA_HA"].keys()


@pytest.mark.slow
def test_changelayers_filter_lowers_transitions(euromine_provider, sites, tmp_path):
    images = sorted(str(p) for p in (sites[2] / "image").glob("Year*.tif"))
    footprints = processing.run("euromine:mapfootprints", {"IMAGES": images, "MODEL": "spectral_baseline",
                                                           "OUTPUT_FOLDER": str(tmp_path / "fp")})["FOOTPRINTS"]
    results = {f: processing.run("euromine:changelayers", {"FOOTPRINTS": footprints, "TEMPORAL_FILTER": f,
                                                          "OUTPUT_FOLDER": str(tmp_path / f)})
               for f in ("none", "smooth5")}
    with rasterio.open(results["none"]["TRANSITIONS"]) as a, rasterio.open(results["smooth5"]["TRANSITIONS"]) as b:
        plain, smooth = a.read(1), b.read(1)
    seen = plain != 255
    np.testing.assert_array_equal(seen, smooth != 255)
    assert smooth[seen].sum() < plain[seen].sum()
