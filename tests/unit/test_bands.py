"""Bands by name (core/io/bands.py): the model's bands picked from images with any band count and
order, through the real engine on generated sites and the bundled spectral_baseline model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from euromine_qgis.core import release
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.scaling import ImageInput
from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.bands import parse_input_bands, select_bands, sentinel2_name
from euromine_qgis.core.io.raster import open_raster
from euromine_qgis.core.io.row_reader import RowReader
from euromine_qgis.core.maps.bitemporal import detect_change
from euromine_qgis.core.maps.footprints import map_footprints
from euromine_qgis.core.progress import Reporter
from export.synthetic import generate_site
from tests.band_stacks import L2A_ORDER, l2a_numbers, l2a_stack
from tests.plain_run import AUTO_TILES, PLAIN_INPUT

YEARS = (2016, 2019)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A generated site larger than one tile, so tiles overlap."""
    return generate_site(tmp_path_factory.mktemp("bands"), "Quarry", seed=11, size=(230, 300), years=YEARS)


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(resolve_bundled("spectral_baseline"), device="cpu", scale=1.0)


def _image(site: Path, year: int) -> Path:
    return site / "image" / f"Year{year}.tif"


def _footprints(images: dict[int, Path], model: Model, out: Path, image_input: ImageInput = PLAIN_INPUT,
                log: list[str] | None = None) -> dict[int, bytes]:
    """The footprint files' bytes of a real map_footprints run."""
    reporter = Reporter(info=(log if log is not None else []).append)
    results = map_footprints(sorted(images.items()), model, out, reporter=reporter, image_input=image_input,
                             threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0)
    return {r.year: r.footprint.read_bytes() for r in results}


@pytest.fixture(scope="module")
def reference(site, model, tmp_path_factory) -> dict[int, bytes]:
    """The footprints of the site's own 10-band images."""
    return _footprints({y: _image(site, y) for y in YEARS}, model, tmp_path_factory.mktemp("reference"))


@pytest.mark.parametrize("name, canonical", [
    ("B2", "B2"), ("B02", "B2"), ("b02", "B2"), ("SR_B2", "B2"), (" B8A ", "B8A"), ("B08A", "B8A"),
    ("B8", "B8"), ("B08", "B8"), ("B11", "B11"), ("B12", "B12"), ("SCL", None), ("B13", None),
    ("B2A", None), ("AOT", None), ("", None), (None, None), ("red", None),
])
def test_sentinel2_names_are_normalised(name, canonical):
    assert sentinel2_name(name) == canonical


def test_input_bands_text():
    assert parse_input_bands("") is None and parse_input_bands(None) is None
    assert parse_input_bands("2, 3;B04 ,SR_B5") == (2, 3, "B04", "SR_B5")
    with pytest.raises(InputError, match="an item is empty"):
        parse_input_bands("2,,3")


def test_a_shuffled_13_band_stack_maps_exactly_as_the_10_band_images(site, model, reference, tmp_path):
    stacks = {y: l2a_stack(_image(site, y), tmp_path / f"l2a_{y}.tif") for y in YEARS}
    log: list[str] = []
    assert _footprints(stacks, model, tmp_path / "out", log=log) == reference
    expected = ", ".join(f"{band}={index}" for band, index in zip(release.BANDS, l2a_numbers(), strict=True))
    assert f"Bands by name: {expected} (2 image(s)" in "\n".join(log)


def test_unnamed_bands_with_input_bands_map_exactly_as_the_10_band_images(site, model, reference, tmp_path):
    stacks = {y: l2a_stack(_image(site, y), tmp_path / f"unnamed_{y}.tif", names=None) for y in YEARS}
    mapping = ImageInput(bands=tuple(l2a_numbers()), scale=1.0)
    assert _footprints(stacks, model, tmp_path / "out", mapping) == reference


def test_input_bands_by_name_override_the_order(site, model, reference, tmp_path):
    stacks = {y: l2a_stack(_image(site, y), tmp_path / f"l2a_{y}.tif") for y in YEARS}
    names = tuple(parse_input_bands("B02,B03,B04,B05,B06,B07,B08,B8A,B11,B12"))
    assert _footprints(stacks, model, tmp_path / "out", ImageInput(bands=names, scale=1.0)) == reference


def test_unnamed_10_band_images_are_read_in_order(site, model, reference, tmp_path):
    images = {}
    for year in YEARS:
        with rasterio.open(_image(site, year)) as src:
            data, profile = src.read(), src.profile
        images[year] = tmp_path / f"plain_{year}.tif"
        with rasterio.open(images[year], "w", **profile) as dst:  # the release's images name no band
            dst.write(data)
    log: list[str] = []
    assert _footprints(images, model, tmp_path / "out", log=log) == reference
    assert "Bands in order (the bands are not named)" in "\n".join(log)


def test_an_unmatched_image_names_the_bands_found_and_needed(site, model, tmp_path):
    unnamed = l2a_stack(_image(site, 2016), tmp_path / "unnamed.tif", names=None)
    with pytest.raises(InputError) as error:
        map_footprints([(2016, unnamed)], model, tmp_path / "out",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)
    message = str(error.value)
    assert f"{unnamed}: image has 13 band(s) but model 'spectral_baseline' expects 10 ({', '.join(release.BANDS)})" \
        in message
    assert "its bands are unnamed" in message and "The image's bands: 1 (unnamed), 2 (unnamed)" in message
    assert "INPUT_BANDS" in message and not (tmp_path / "out" / "footprint_2016.tif").exists()

    without_b12 = tuple(n if n != "B12" else "B12_cloudmask" for n in L2A_ORDER)
    partly = l2a_stack(_image(site, 2016), tmp_path / "partly.tif", names=without_b12)
    with pytest.raises(InputError, match=r"no band is named B12\).*2 B12_cloudmask, 3 B1, 4 B04"):
        map_footprints([(2016, partly)], model, tmp_path / "out",
                       threshold=0.5, settings=AUTO_TILES, temporal_filter="none", min_area_ha=0.0,
                       image_input=PLAIN_INPUT)


def test_ambiguous_and_out_of_range_mappings_are_refused():
    with pytest.raises(InputError, match=r"B2 is ambiguous \(bands 1, 2\)"):
        select_bands("x.tif", ["SR_B2", "TOA_B2", "B3"], ("B2", "B3"))
    with pytest.raises(InputError, match="INPUT_BANDS names band 4, which the image does not have"):
        select_bands("x.tif", [None, None, None], ("B2", "B3"), (1, 4))
    with pytest.raises(InputError, match="INPUT_BANDS gives 1 band"):
        select_bands("x.tif", [None, None, None], ("B2", "B3"), (1,))
    assert select_bands("x.tif", ["B2", "SR_B2", "B3"], ("B2", "B3")) == ((1, 3), "by name")  # exact name first
    assert select_bands("x.tif", ["B03", "B02"], ("B2", "B3")) == ((2, 1), "by name")
    # a model band that is no Sentinel-2 name (BANDS=...,SWIR2): names cannot decide, the count can
    assert select_bands("x.tif", ["B2", "B12"], ("B2", "SWIR2")) == \
        ((1, 2), "in order (model bands SWIR2 are not Sentinel-2 names)")
    assert select_bands("x.tif", ["SWIR2", "B2"], ("B2", "SWIR2")) == ((2, 1), "by name")
    with pytest.raises(InputError, match="no band is named SWIR2"):
        select_bands("x.tif", ["B2", "B12", "SCL"], ("B2", "SWIR2"))


def test_change_detection_picks_bands_by_name_too(site, model, tmp_path):
    before, after = (_image(site, y) for y in YEARS)
    reference = detect_change(before, after, tmp_path / "reference.tif", model,
                              threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    stacks = [l2a_stack(p, tmp_path / f"l2a_{p.stem}.tif") for p in (before, after)]
    result = detect_change(*stacks, tmp_path / "stacked.tif", model,
                           threshold=0.5, settings=AUTO_TILES, image_input=PLAIN_INPUT)
    assert result.change.read_bytes() == reference.change.read_bytes()
    assert (result.gain_ha, result.loss_ha) == (reference.gain_ha, reference.loss_ha)


@pytest.mark.parametrize("keep_rows", [True, False])
def test_row_reader_reads_only_the_selected_bands(site, tmp_path, keep_rows):
    stack = l2a_stack(_image(site, 2016), tmp_path / "l2a.tif")
    indexes = l2a_numbers()
    with open_raster(stack) as src, open_raster(_image(site, 2016)) as ref:
        reader = RowReader(src, 64, keep_rows=keep_rows, indexes=indexes)
        for row in (0, 50, 120, 166):
            window = Window(7, row, 200, 64)
            np.testing.assert_array_equal(reader.read(window), ref.read(window=window))
        reader.close()
