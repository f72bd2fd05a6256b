"""Which asset holds which band, from each item's metadata, for the three collections' item shapes."""
from __future__ import annotations

import pytest

from euromine_qgis.core.archive.bands import find_bands, normalised
from euromine_qgis.core.errors import InputError
from euromine_qgis.core.release import BANDS
from tests.stac.items import earth_search, planetary_computer

EARTH_SEARCH_KEYS = ["blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08", "swir16", "swir22"]
PC_KEYS = ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


@pytest.mark.parametrize(("item", "keys", "scl"), [(earth_search(), EARTH_SEARCH_KEYS, "scl"),
                                                   (earth_search(c1=False), EARTH_SEARCH_KEYS, "scl"),
                                                   (planetary_computer(), PC_KEYS, "SCL")])
def test_bands_come_from_the_metadata_in_the_models_order(item, keys, scl):
    found = find_bands(item["id"], item["assets"])
    assert list(found.bands) == list(BANDS)
    assert [b.key for b in found.bands.values()] == keys  # the COGs, never the JPEG 2000 copies
    assert found.scl.key == scl


def test_band_names_are_compared_without_zero_padding():
    assert [normalised(n) for n in ("B02", "b8a", "B8A", "B11", "rededge1")] == ["B2", "B8A", "B8A", "B11", "REDEDGE1"]


def test_keys_that_say_nothing_are_matched_by_common_name_or_wavelength():
    item = earth_search()
    renamed = {f"asset{i}": asset for i, asset in enumerate(item["assets"].values())}
    for asset in renamed.values():  # no band names: only common names (unique ones) and wavelengths
        for band in asset.get("eo:bands", []):
            band.pop("name", None)
    renamed["classes"] = renamed.pop(next(k for k, a in renamed.items() if a["href"].endswith("SCL.tif")))
    renamed["classes"]["title"] = "Scene classification map"
    found = find_bands("x", renamed)
    assert [renamed[b.key]["href"].rsplit("/", 1)[1] for b in found.bands.values()] == [
        f"{k}.tif" for k in EARTH_SEARCH_KEYS]


def test_a_missing_band_names_the_item_and_the_band():
    item = planetary_computer()
    del item["assets"]["B8A"]
    with pytest.raises(InputError, match=r"item S2A_MSIL2A.*B8A"):
        find_bands(item["id"], item["assets"])
