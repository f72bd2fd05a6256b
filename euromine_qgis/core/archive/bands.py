"""Which asset of a STAC item holds which Sentinel-2 band, read from the item's own metadata: the
``eo:bands`` (STAC 1.0) or ``bands`` (STAC 1.1) of each single-band raster asset, by band name
(``B05``, ``rededge1``), then by common name where only one asset has it, then by centre
wavelength. Asset keys differ between services (Earth Search: ``blue``, ``rededge1``, ``scl``;
Planetary Computer: ``B02``, ``B05``, ``SCL``) and are never listed here."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..release import BANDS


@dataclass(frozen=True)
class Band:
    """What identifies a Sentinel-2 band in STAC metadata."""

    name: str  # as the model and the outputs name it (core.release.BANDS)
    names: frozenset[str]  # eo:bands names that mean it, upper case, zero padding removed
    common_name: str
    wavelength: float  # centre, µm


S2_BANDS: dict[str, Band] = {b.name: b for b in (
    Band("B2", frozenset({"B2", "BLUE"}), "blue", 0.490),
    Band("B3", frozenset({"B3", "GREEN"}), "green", 0.560),
    Band("B4", frozenset({"B4", "RED"}), "red", 0.665),
    Band("B5", frozenset({"B5", "REDEDGE1"}), "rededge", 0.705),
    Band("B6", frozenset({"B6", "REDEDGE2"}), "rededge", 0.740),
    Band("B7", frozenset({"B7", "REDEDGE3"}), "rededge", 0.783),
    Band("B8", frozenset({"B8", "NIR"}), "nir", 0.842),
    Band("B8A", frozenset({"B8A", "NIR08"}), "nir08", 0.865),
    Band("B11", frozenset({"B11", "SWIR16"}), "swir16", 1.610),
    Band("B12", frozenset({"B12", "SWIR22"}), "swir22", 2.190),
)}
SCL = "SCL"
WAVELENGTH_TOLERANCE = 0.012  # µm: B8 (0.842) and B8A (0.865) stay apart


@dataclass(frozen=True)
class BandInfo:
    """One single-band asset's band as its metadata describes it."""

    key: str
    name: str  # normalised: upper case, zero padding removed (B02 -> B2)
    common_name: str
    wavelength: float | None
    fields: Mapping[str, Any]  # the band object itself (scale, offset, nodata...)
    raster: Mapping[str, Any]  # the asset's raster:bands[0], or {}


def normalised(name: str) -> str:
    """``B02`` -> ``B2``, ``b8a`` -> ``B8A``, ``rededge1`` -> ``REDEDGE1``."""
    upper = name.strip().upper()
    if len(upper) > 1 and upper[0] == "B" and upper[1:2].isdigit():
        return "B" + upper[1:].lstrip("0")
    return upper


def _is_raster(asset: Mapping[str, Any]) -> bool:
    media = str(asset.get("type", "")).lower()
    href = str(asset.get("href", "")).lower().split("?")[0]
    return "tiff" in media or href.endswith((".tif", ".tiff"))


def _band_objects(asset: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(asset.get("bands") or asset.get("eo:bands") or [])


def band_info(key: str, asset: Mapping[str, Any]) -> BandInfo | None:
    """The band of a single-band GeoTIFF asset, or None for any other asset (JPEG 2000 copies,
    the 3-band visual image, metadata)."""
    bands = _band_objects(asset)
    if not _is_raster(asset) or len(bands) > 1:
        return None
    band = bands[0] if bands else {}
    raster_bands = asset.get("raster:bands") or []
    wavelength = band.get("eo:center_wavelength", band.get("center_wavelength"))
    return BandInfo(key, normalised(str(band.get("name", ""))),
                    str(band.get("eo:common_name", band.get("common_name", ""))).lower(),
                    float(wavelength) if wavelength is not None else None, band,
                    raster_bands[0] if len(raster_bands) == 1 else {})


@dataclass(frozen=True)
class ItemBands:
    """The asset of each output band and of the scene classification (SCL)."""

    bands: dict[str, BandInfo]  # output band name -> its asset, in the model's order
    scl: BandInfo


def find_bands(item_id: str, assets: Mapping[str, Mapping[str, Any]]) -> ItemBands:
    """The assets of ``BANDS`` and SCL in an item's ``assets``; InputError naming the item, the
    missing bands and the asset keys when one cannot be found."""
    infos = [info for key, asset in assets.items() if (info := band_info(key, asset)) is not None]
    found: dict[str, BandInfo] = {}
    for name in BANDS:  # the outputs' band order is the model's
        match = _match(S2_BANDS[name], infos)
        if match is not None:
            found[name] = match
    scl = next((i for i in infos if i.name == SCL or i.key.upper() == SCL), None) or next(
        (i for i in infos if "scene classification" in str(assets[i.key].get("title", "")).lower()), None)
    missing = [name for name in BANDS if name not in found] + ([SCL] if scl is None else [])
    if missing or scl is None:
        raise InputError(f"item {item_id}: no single-band GeoTIFF asset found for {', '.join(missing)} from its "
                         f"eo:bands/bands metadata (assets: {', '.join(assets)})")
    return ItemBands(found, scl)


def _match(band: Band, infos: list[BandInfo]) -> BandInfo | None:
    by_name = [i for i in infos if i.name in band.names]
    if by_name:
        return by_name[0]
    by_common = [i for i in infos if i.common_name == band.common_name]
    if len(by_common) == 1 and sum(b.common_name == band.common_name for b in S2_BANDS.values()) == 1:
        return by_common[0]
    by_wavelength = [i for i in infos if i.wavelength is not None
                     and abs(i.wavelength - band.wavelength) <= WAVELENGTH_TOLERANCE]
    return min(by_wavelength, key=lambda i: abs((i.wavelength or 0.0) - band.wavelength), default=None)
