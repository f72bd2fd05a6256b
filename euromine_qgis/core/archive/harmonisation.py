"""Each item's reflectance convention, decided from its own metadata (never from the collection's
name or the date alone), and a cheap check of the pixels against it.

Sentinel-2 products of processing baseline 04.00 or later (from 25 January 2022 in the original
collections; every year in reprocessed Collection 1) carry a +1000 offset in their digital numbers.
The outputs are reflectance × 10000 without it, so that every year of every collection compares:

1. the item's ``earthsearch:boa_offset_applied`` true (Earth Search's older ``sentinel-2-l2a``): Earth
   Search already removed the offset from the DNs -> DN. It comes first because those items declare
   ``raster:bands`` offset −0.1 whatever the flag says (Element84/earth-search #66: a harmonised and
   an unharmonised item of January 2022 with the same ``raster:bands``), and Earth Search's
   maintainers call the flag the truth; false says the offset was not removed, so rules 2–3 decide;
2. else the asset's ``raster:bands`` (or STAC 1.1 ``bands``) ``scale``/``offset``:
   round((DN · scale + offset) · 10000);
3. else ``s2:processing_baseline`` 04.00 or later -> DN − 1000;
4. else DN.

The flag is reported wrong on some items (#66, #71): the pixel check below warns, naming the item.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bands import BandInfo

BOA_OFFSET_DN = 1000  # the digital-number offset of baseline 04.00 and later
OFFSET_BASELINE = (4, 0)
L2A_SCALE = 1e-4  # reflectance per digital number (L2A's quantification value 10000)
DEFAULT_NODATA = 0  # Sentinel-2 L2A's no-data value where an asset declares none
# The data check: in an item declared to carry the offset, more than this share of its valid, clear
# pixels below BOA_OFFSET_DN (negative reflectance) means the offset is not there; in an item declared
# not to carry it, a minimum of BOA_OFFSET_DN or more over at least CHECK_MIN_PIXELS pixels means it is.
BELOW_OFFSET_SHARE = 0.01
CHECK_MIN_PIXELS = 100


@dataclass(frozen=True)
class Convention:
    """How one asset's digital numbers become reflectance × 10000, and which rule said so."""

    scale: float  # reflectance per DN
    offset: float  # reflectance added
    rule: str
    nodata: float

    @property
    def carries_offset(self) -> bool:
        """Whether the DNs hold the +1000 offset (the convention removes a negative offset)."""
        return self.offset < 0

    def reflectance(self, dn: NDArray[Any]) -> NDArray[np.float64]:
        """round((DN · scale + offset) · 10000), rounded half to even."""
        values: NDArray[np.float64] = np.rint((dn.astype(np.float64) * self.scale + self.offset) * 10000.0)
        return values


def _declared(info: BandInfo, key: str) -> Any:
    for source in (info.fields, info.raster):
        for name in (key, f"raster:{key}"):
            if name in source:
                return source[name]
    return None


def _baseline(properties: Mapping[str, Any]) -> tuple[int, int] | None:
    text = str(properties.get("s2:processing_baseline", "")).strip()
    try:
        major, _, minor = text.partition(".")
        return int(major), int(minor or 0)
    except ValueError:
        return None


def convention(properties: Mapping[str, Any], info: BandInfo) -> Convention:
    """The convention of the asset ``info`` of an item with ``properties`` (rules 1–4 above)."""
    nodata_value = _declared(info, "nodata")
    nodata = float(nodata_value) if nodata_value is not None else float(DEFAULT_NODATA)
    applied = properties.get("earthsearch:boa_offset_applied")
    if applied is True:
        return Convention(L2A_SCALE, 0.0, "earthsearch:boa_offset_applied true (offset already removed)", nodata)
    flag = "earthsearch:boa_offset_applied false, " if applied is False else ""
    scale, offset = _declared(info, "scale"), _declared(info, "offset")
    if scale is not None or offset is not None:
        # an offset without a scale keeps L2A's quantification (1/10000), not the extension's default of 1
        return Convention(float(scale) if scale is not None else L2A_SCALE, float(offset or 0.0),
                          f"{flag}raster:bands scale/offset", nodata)
    baseline = _baseline(properties)
    if baseline is not None and baseline >= OFFSET_BASELINE:
        return Convention(L2A_SCALE, -BOA_OFFSET_DN * L2A_SCALE,
                          f"{flag}s2:processing_baseline {properties['s2:processing_baseline']}", nodata)
    return Convention(L2A_SCALE, 0.0, f"{flag}no offset declared", nodata)


@dataclass
class OffsetCheck:
    """The pixels of one item tallied against its convention (valid, clear pixels of every band)."""

    item_id: str
    carries_offset: bool
    rule: str
    pixels: int = 0
    below_offset: int = 0
    minimum: float = float("inf")

    def add(self, dn: NDArray[Any]) -> None:
        """Tally the digital numbers ``dn`` (valid and clear pixels only)."""
        if dn.size:
            self.pixels += int(dn.size)
            self.below_offset += int(np.count_nonzero(dn < BOA_OFFSET_DN))
            self.minimum = min(self.minimum, float(dn.min()))

    def disagreement(self) -> str | None:
        """A warning naming the item when its pixels contradict its metadata, else None."""
        if self.pixels < CHECK_MIN_PIXELS:
            return None
        share = self.below_offset / self.pixels
        if self.carries_offset and share > BELOW_OFFSET_SHARE:
            return (f"item {self.item_id}: its metadata ({self.rule}) says its values carry the +{BOA_OFFSET_DN} "
                    f"offset, but {share:.1%} of its clear pixels are below {BOA_OFFSET_DN} (negative reflectance "
                    "once the offset is removed); the metadata may be wrong")
        if not self.carries_offset and self.minimum >= BOA_OFFSET_DN:
            return (f"item {self.item_id}: its metadata ({self.rule}) says its values carry no offset, but none of "
                    f"its {self.pixels} clear pixels is below {BOA_OFFSET_DN} (minimum {self.minimum:g}); the values "
                    f"may carry the +{BOA_OFFSET_DN} offset")
        return None
