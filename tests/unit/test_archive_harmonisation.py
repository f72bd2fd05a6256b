"""Each item's reflectance convention from its own metadata (earthsearch:boa_offset_applied true,
then raster:bands, then the processing baseline), and the data check that warns when the pixels
contradict it."""
from __future__ import annotations

import numpy as np
import pytest

from euromine_qgis.core.archive.bands import find_bands
from euromine_qgis.core.archive.harmonisation import OffsetCheck, convention
from tests.stac.items import earth_search, planetary_computer

APPLIED = "earthsearch:boa_offset_applied true (offset already removed)"
NOT_APPLIED = "earthsearch:boa_offset_applied false, "
DECLARED, BASELINE = "raster:bands scale/offset", "s2:processing_baseline"


def _blue(item):
    return convention(item["properties"], find_bands(item["id"], item["assets"]).bands["B2"])


@pytest.mark.parametrize(("item", "rule", "dn", "expected"), [
    (earth_search(), "raster:bands scale/offset", 1500, 500),  # Collection 1: the offset in every year, declared
    (earth_search(baseline="02.14"), "raster:bands scale/offset", 1500, 500),  # the declaration wins over the baseline
    # the older collection: true says Earth Search removed the offset already; false leaves it to the baseline
    (earth_search(c1=False, offset_applied=True), APPLIED, 1500, 1500),
    # ... also where its raster:bands declare the offset, as the live items do whatever the flag (#66)
    (earth_search(c1=False, offset_applied=True, declares_offset=True), APPLIED, 1500, 1500),
    (earth_search(c1=False, offset_applied=False, declares_offset=True), NOT_APPLIED + DECLARED, 1500, 500),
    (earth_search(c1=False, offset_applied=False, baseline="04.00"), f"{NOT_APPLIED}{BASELINE} 04.00", 1500, 500),
    (earth_search(c1=False, offset_applied=False, baseline="02.14"), NOT_APPLIED + "no offset declared", 1500, 1500),
    (planetary_computer(baseline="04.00"), "s2:processing_baseline 04.00", 1500, 500),
    (planetary_computer(baseline="05.10"), "s2:processing_baseline 05.10", 1500, 500),
    (planetary_computer(baseline="02.14"), "no offset declared", 1500, 1500),
])
def test_the_rule_comes_from_the_items_metadata(item, rule, dn, expected):
    c = _blue(item)
    assert c.rule == rule
    assert c.reflectance(np.array([dn], dtype=np.uint16))[0] == expected
    assert c.nodata == 0


def test_stac_1_1_bands_carry_scale_and_offset():
    item = planetary_computer()
    asset = item["assets"]["B02"]
    asset["bands"] = [{"name": "B02", "eo:common_name": "blue", "eo:center_wavelength": 0.49,
                       "raster:scale": 0.0002, "raster:offset": -0.2, "nodata": 65535}]
    del asset["eo:bands"]
    c = _blue(item)
    assert c.rule == "raster:bands scale/offset" and c.nodata == 65535
    assert c.reflectance(np.array([1500, 7], dtype=np.uint16)).tolist() == [1000.0, -1986.0]


def test_reflectance_rounds_half_to_even():
    c = _blue(earth_search())
    c2 = type(c)(0.00005, 0.0, "test", 0)  # half a unit per DN
    assert c2.reflectance(np.array([1, 3, 5])).tolist() == [0.0, 2.0, 2.0]
    assert c.reflectance(np.array([0, 999, 1000, 1001])).tolist() == [-1000.0, -1.0, 0.0, 1.0]


def test_the_data_check_names_an_item_whose_pixels_contradict_its_metadata():
    dark = np.full(1000, 300)  # negative reflectance once 1000 is removed
    said_offset = OffsetCheck("S2A_X", True, "raster:bands scale/offset")
    said_offset.add(dark)
    assert "S2A_X" in said_offset.disagreement() and "100.0%" in said_offset.disagreement()
    said_none = OffsetCheck("S2B_Y", False, "no offset declared")
    said_none.add(np.full(1000, 1200))
    assert "S2B_Y" in said_none.disagreement()
    agreeing = OffsetCheck("S2C_Z", True, "raster:bands scale/offset")
    agreeing.add(np.concatenate([np.full(999, 1400), [900]]))  # 0.1 % below: noise, not a wrong declaration
    assert agreeing.disagreement() is None
    too_few = OffsetCheck("S2D", False, "no offset declared")
    too_few.add(np.full(10, 1200))
    assert too_few.disagreement() is None
