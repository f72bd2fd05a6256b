"""open_input keeps its promise: a raster that cannot be opened or read is an InputError naming
the file, and an error of the caller's own code inside its block passes unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from euromine_qgis.core.errors import InputError
from euromine_qgis.core.io.raster import RASTERIO_ERRORS, open_input
from tests.rasters import damaged_image, random_scene, write_image


def test_an_error_of_the_callers_own_passes_unchanged(tmp_path):
    image = write_image(tmp_path / "Year2019.tif", random_scene(20, 30))
    with pytest.raises(ValueError, match="cannot reshape array"), open_input(image) as src:
        src.read(1).reshape(7, 7)
    with pytest.raises(KeyError, match="B13"), open_input(image) as src:
        dict(zip(src.descriptions, src.indexes, strict=True))["B13"]


def test_a_failed_read_inside_the_block_is_an_input_error_naming_the_file(tmp_path):
    image = damaged_image(tmp_path / "Year2019.tif")
    with pytest.raises(InputError, match=r"Year2019.tif: reading the raster failed \(") as error:
        with open_input(image) as src:
            src.read()
    assert isinstance(error.value.__cause__, RASTERIO_ERRORS)


def test_a_file_that_is_not_a_raster_is_an_input_error_naming_it(tmp_path):
    notes = tmp_path / "Year2019.tif"
    notes.write_text("field notes, not an image\n")
    with pytest.raises(InputError, match=r"Year2019.tif: not a readable raster \(") as error:
        with open_input(notes):
            pytest.fail("a file that is not a raster opened")
    assert isinstance(error.value.__cause__, RASTERIO_ERRORS)


def test_a_whole_file_reads_through(tmp_path):
    data = random_scene(20, 30)
    image = write_image(tmp_path / "Year2019.tif", data)
    with open_input(image) as src:
        np.testing.assert_array_equal(src.read(), data)
