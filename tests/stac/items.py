"""Item JSON shaped like the three collections' items (the fields the composites read), imported by the
archive's pure-function tests: Earth Search's Collection 1 ``sentinel-2-c1-l2a`` (asset keys by common
name, raster:bands scale 0.0001 and offset -0.1), its older ``sentinel-2-l2a`` (the same keys,
``earthsearch:boa_offset_applied``) and Planetary Computer's ``sentinel-2-l2a`` (keys B02…, SCL; the
baseline only)."""
from __future__ import annotations

from typing import Any

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
JP2 = "image/jp2"
# (Earth Search key, Planetary Computer key, eo:bands common name, centre wavelength µm, pixel size m)
S2 = (("coastal", "B01", "coastal", 0.443, 60), ("blue", "B02", "blue", 0.49, 10), ("green", "B03", "green", 0.56, 10),
      ("red", "B04", "red", 0.665, 10), ("rededge1", "B05", "rededge", 0.704, 20),
      ("rededge2", "B06", "rededge", 0.74, 20), ("rededge3", "B07", "rededge", 0.783, 20),
      ("nir", "B08", "nir", 0.842, 10), ("nir08", "B8A", "nir08", 0.865, 20), ("nir09", "B09", "nir09", 0.945, 60),
      ("swir16", "B11", "swir16", 1.61, 20), ("swir22", "B12", "swir22", 2.19, 20))


def earth_search(c1: bool = True, offset_applied: bool | None = None, baseline: str = "05.10",
                 declares_offset: bool | None = None) -> dict[str, Any]:
    """An Earth Search item: Collection 1 (raster:bands with scale and offset) or the older collection
    (``earthsearch:boa_offset_applied`` where given; raster:bands with scale and offset where
    ``declares_offset``, as its live items from 25 January 2022 declare them whatever the flag)."""
    assets: dict[str, Any] = {}
    for key, _, common, wavelength, gsd in S2:
        raster = {"nodata": 0, "data_type": "uint16", "spatial_resolution": gsd}
        if c1 if declares_offset is None else declares_offset:
            raster.update(scale=0.0001, offset=-0.1)
        band = {"name": key, "common_name": common, "center_wavelength": wavelength}
        assets[key] = {"href": f"https://example.test/{key}.tif", "type": COG, "roles": ["data", "reflectance"],
                       "eo:bands": [band], "raster:bands": [raster]}
        assets[f"{key}-jp2"] = {"href": f"https://example.test/{key}.jp2", "type": JP2, "roles": ["data"],
                                "eo:bands": [band], "raster:bands": [raster]}
    assets["scl"] = {"href": "https://example.test/SCL.tif", "type": COG, "roles": ["data"],
                     "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}]}
    assets["visual"] = {"href": "https://example.test/TCI.tif", "type": COG, "roles": ["visual"],
                        "eo:bands": [{"name": "red"}, {"name": "green"}, {"name": "blue"}]}
    assets["thumbnail"] = {"href": "https://example.test/thumb.jpg", "type": "image/jpeg"}
    properties: dict[str, Any] = {"datetime": "2022-06-01T10:00:00Z", "eo:cloud_cover": 12.5,
                                  "s2:processing_baseline": baseline, "updated": "2024-01-01T00:00:00Z"}
    if offset_applied is not None:
        properties["earthsearch:boa_offset_applied"] = offset_applied
    return {"id": "S2B_33UVR_20220601_0_L2A", "properties": properties, "assets": assets}


def planetary_computer(baseline: str = "04.00") -> dict[str, Any]:
    """A Planetary Computer item: keys B01…B12 and SCL, eo:bands names, no raster:bands."""
    assets: dict[str, Any] = {
        pc: {"href": f"https://example.test/{pc}.tif", "type": COG, "roles": ["data"], "gsd": gsd,
             "eo:bands": [{"name": pc, "common_name": common, "center_wavelength": wavelength}]}
        for _, pc, common, wavelength, gsd in S2}
    assets["SCL"] = {"href": "https://example.test/SCL.tif", "type": COG, "roles": ["data"],
                     "title": "Scene classfication map (SCL)", "gsd": 20}
    assets["visual"] = {"href": "https://example.test/TCI.tif", "type": COG, "roles": ["data"],
                        "eo:bands": [{"name": "B04"}, {"name": "B03"}, {"name": "B02"}]}
    return {"id": "S2A_MSIL2A_20220601T100031_R122_T33UVR", "assets": assets,
            "properties": {"datetime": "2022-06-01T10:00:31Z", "eo:cloud_cover": 3.0,
                           "s2:processing_baseline": baseline}}
