"""Generated Sentinel-2 L2A scenes over one small site, written as real COGs, and their item JSON in
the shapes of the three collections the composites read.

The pixels
----------
One scene grid in UTM zone 32N (EPSG:32632): 10 m bands on a SIDE x SIDE grid whose corner is a
multiple of 20 m, 20 m bands (B5 B6 B7 B8A B11 B12) and SCL on the same extent at 20 m, so that a
10 m pixel lies inside exactly one 20 m pixel and nearest resampling is exact. Each scene's true
reflectance (x 10000) is a smooth landscape that changes a little from year to year (a bright
quarry that grows), plus noise per scene. SCL is 4/5/6 (vegetation, bare soil, water: clear) except:
clouds (8 and 9) with bright pixels under them, thin cirrus (10), cloud shadows (3) with dark pixels,
saturated or defective pixels (1, value 65535 in the bands), and a nodata strip along the west edge
of some scenes (SCL 0 and 0 in every band). A few pixels are 0 in one band while SCL says clear (a
per-band dropout: clear means SCL allowed and the band not nodata). A dark patch holds true
reflectance at or below 0.0001, so that clipping to 1 is exercised and its order against the median
does not matter. In one year a patch is cloudy in every in-season scene (no clear observation: 0).
Per year: in-season scenes (April to October), one scene above MAX_CLOUD 80 (and one at exactly 80,
which is kept), scenes outside the season, and in 2022 two January scenes either side of the
25 January baseline change. Scenes that must not be used carry pixels 2500 brighter, so a composite
that used them would miss the reference by far more than 1 DN.

The digital numbers each shape writes (``offset_dn``: what the DNs carry above reflectance x 10000):
- ``sentinel-2-c1-l2a`` (Earth Search, Collection 1, reprocessed at baseline 05.xx): +1000 in every year.
- ``sentinel-2-l2a`` of Earth Search: the offset removed by Earth Search from 25 January 2022
  (``earthsearch:boa_offset_applied`` true), none before; one early-2022 item was not reprocessed
  (flag false, baseline 04.00, +1000 in its DNs), as Element84/earth-search issues report. With
  ``contradiction=True`` one 2023 item declares the flag false and baseline 05.11 while its DNs
  carry no offset (Element84/earth-search issues #66 and #71): the metadata says subtract 1000, the
  pixels say no.
- ``sentinel-2-l2a`` of Planetary Computer: the DNs as ESA made them, +1000 from baseline 04.00.

The item JSON, field by field (from the public item JSON of each API)
-------------------------------------------------------------------------
Earth Search v1 (https://earth-search.aws.element84.com/v1), both collections:
- ids: ``S2B_T32TNR_20210615T102559_L2A`` (``sentinel-2-c1-l2a``), ``S2B_32TNR_20210615_0_L2A``
  (``sentinel-2-l2a``);
- properties: ``datetime``, ``platform`` (``sentinel-2a``/``sentinel-2b``), ``constellation``
  (``sentinel-2``), ``instruments`` (``["msi"]``), ``eo:cloud_cover``, ``proj:epsg``,
  ``mgrs:utm_zone``, ``mgrs:latitude_band``, ``mgrs:grid_square``, ``grid:code``,
  ``s2:processing_baseline``, ``s2:product_type`` (``S2MSI2A``), ``s2:product_uri``,
  ``s2:nodata_pixel_percentage``, ``s2:cloud_shadow_percentage``, ``s2:thin_cirrus_percentage``,
  ``processing:software``, ``created`` and ``updated``; ``sentinel-2-l2a`` adds ``earthsearch:boa_offset_applied``;
- assets keyed by common name: ``blue green red rededge1 rededge2 rededge3 nir nir08 swir16
  swir22 scl`` (plus ``visual``, not a band), each with ``href``, ``type`` (COG media type),
  ``title``, ``roles`` (``data``, ``reflectance``), ``gsd``, ``proj:shape``, ``proj:transform``,
  ``eo:bands`` (``name`` as the key, ``common_name``, ``description``, ``center_wavelength``,
  ``full_width_half_max``) and ``raster:bands`` (``nodata`` 0, ``data_type``,
  ``bits_per_sample`` 15, ``spatial_resolution``, and for ``sentinel-2-c1-l2a`` ``scale`` 0.0001
  and ``offset`` -0.1 in every year). The live ``sentinel-2-l2a`` items also declare scale 0.0001
  and offset -0.1 whatever the flag from the baseline change on (issue #66 shows two such items,
  one harmonised and one not; a maintainer calls the flag the truth, Element84/earth-search #9), and
  so do this fixture's items from 25 January 2022: the flag must be read before ``raster:bands``.
Planetary Computer (https://planetarycomputer.microsoft.com/api/stac/v1):
- ids: ``S2B_MSIL2A_20210615T102559_R108_T32TNR_20210616T031245``;
- properties: ``datetime``, ``platform`` (``Sentinel-2B``), ``constellation`` (``Sentinel 2``),
  ``instruments``, ``eo:cloud_cover``, ``proj:epsg``, ``s2:mgrs_tile``, ``s2:processing_baseline``,
  ``s2:product_type``, ``s2:product_uri``, ``s2:granule_id``, ``s2:nodata_pixel_percentage``,
  ``s2:high_proba_clouds_percentage``, ``s2:medium_proba_clouds_percentage``,
  ``s2:thin_cirrus_percentage``, ``s2:cloud_shadow_percentage``, ``sat:relative_orbit``,
  ``sat:orbit_state``;
- assets keyed by band: ``B02 B03 B04 B05 B06 B07 B08 B8A B11 B12 SCL`` (plus ``visual``), each with
  ``href`` (an Azure blob URL that needs a SAS token from
  ``/api/sas/v1/token/sentinel-2-l2a``, appended as the query string), ``type``, ``title``,
  ``roles`` (``data``), ``gsd``, ``proj:shape``, ``proj:transform``, ``proj:bbox`` and ``eo:bands``
  (``name`` ``B04``..., ``common_name``, ``description``, ``center_wavelength``,
  ``full_width_half_max``); no ``raster:bands``, so the baseline decides.
Here every href points at the loopback server's ``/data/{collection shape}/{year}/{item}/{key}.tif``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

CRS = "EPSG:32632"
X0, Y0 = 600_000.0, 5_000_000.0  # the scene's north-west corner, a multiple of 20 m
SIDE = 256  # 10 m pixels of a scene's side (2.56 km)
BLOCK = 128  # the COGs' tile size (the COG driver's smallest)
BRIGHT = 2500  # what scenes that must not be used add to their pixels
NODATA = -30000  # a pixel without data, in the true reflectance (0 in the DNs)
EXCLUDED_SCL = (0, 1, 3, 8, 9, 10)
CHANGE = datetime(2022, 1, 25, tzinfo=UTC)  # processing baseline 04.00: +1000 in the DNs from here


@dataclass(frozen=True)
class Band:
    """One of the 10 bands of the model, with its names in each collection."""

    name: str  # the model's name, B2 ... B12
    common_name: str
    center: float  # µm
    fwhm: float
    resolution: int
    earth_search: str  # the asset key in Earth Search's collections
    planetary: str  # the asset key in Planetary Computer's
    level: int  # typical reflectance x 10000 of the landscape


BANDS = (
    Band("B2", "blue", 0.490, 0.098, 10, "blue", "B02", 600),
    Band("B3", "green", 0.560, 0.045, 10, "green", "B03", 800),
    Band("B4", "red", 0.665, 0.038, 10, "red", "B04", 700),
    Band("B5", "rededge", 0.704, 0.019, 20, "rededge1", "B05", 1200),
    Band("B6", "rededge", 0.740, 0.018, 20, "rededge2", "B06", 2200),
    Band("B7", "rededge", 0.783, 0.028, 20, "rededge3", "B07", 2600),
    Band("B8", "nir", 0.842, 0.145, 10, "nir", "B08", 2800),
    Band("B8A", "nir08", 0.865, 0.033, 20, "nir08", "B8A", 2900),
    Band("B11", "swir16", 1.610, 0.143, 20, "swir16", "B11", 2000),
    Band("B12", "swir22", 2.190, 0.242, 20, "swir22", "B12", 1300),
)
SCL_KEYS = {"earth-search-c1": "scl", "earth-search-l2a": "scl", "planetary": "SCL"}
# shape name -> the collection id the API serves it under
COLLECTION_IDS = {"earth-search-c1": "sentinel-2-c1-l2a", "earth-search-l2a": "sentinel-2-l2a",
                  "planetary": "sentinel-2-l2a"}
SHAPES = tuple(COLLECTION_IDS)


@dataclass(frozen=True)
class Grid:
    """A scene grid: the north-west corner, the 10 m side in pixels and the COGs' tile size."""

    x0: float = X0
    y0: float = Y0
    side: int = SIDE
    block: int = BLOCK

    def transform(self, resolution: int) -> rasterio.Affine:
        return from_origin(self.x0, self.y0, resolution, resolution)

    def shape(self, resolution: int) -> tuple[int, int]:
        n = self.side * 10 // resolution
        return n, n

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0 - self.side * 10, self.x0 + self.side * 10, self.y0

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """The grid's bounding box in WGS84 (its corners' envelope)."""
        return lonlat_box(self.bounds)


SCENE_GRID = Grid()  # the tests' scene grid


def lonlat_box(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A UTM rectangle's envelope in WGS84 longitude and latitude."""
    to_wgs84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    w, s, e, n = bounds
    lons, lats = to_wgs84.transform([w, e, e, w], [s, s, n, n])
    return min(lons), min(lats), max(lons), max(lats)


# The site: a rectangle inside the scene, 400 m from its west and north edges (so that a site
# box given in WGS84 and brought back to UTM stays inside the scene).
SITE_UTM = (X0 + 400, Y0 - 2160, X0 + 2160, Y0 - 400)


def site_lonlat() -> tuple[float, float, float, float]:
    """The site's box in WGS84 (W, S, E, N), as a user draws it."""
    return lonlat_box(SITE_UTM)


@dataclass(frozen=True)
class Scene:
    """One acquisition as the generator makes it, before any collection shape: when, its cloud
    cover, whether a composite must use it (``kind``) and the seed of its pixels."""

    when: datetime
    cloud_cover: float
    kind: str  # "season", "off-season" or "cloudy" (above MAX_CLOUD 80)
    seed: int
    nodata_columns: int = 0  # 20 m columns of the west nodata strip

    @property
    def platform(self) -> str:
        return "b" if self.seed % 2 else "a"


def timeline(years: tuple[int, ...]) -> list[Scene]:
    """The scenes of ``years`` (see the module's docstring)."""
    scenes = []
    for year in years:
        days = [(4, 21, 12.5, 0), (6, 14, 30.2, 30), (7, 9, 80.0, 0), (8, 18, 8.9, 0)]
        for month, day, cover, strip in days:
            when = datetime(year, month, day, 10, 25, 59, tzinfo=UTC)
            scenes.append(Scene(when, cover, "season", seed=year * 100 + month, nodata_columns=strip))
        scenes.append(Scene(datetime(year, 7, 24, 10, 25, 59, tzinfo=UTC), 91.7, "cloudy", seed=year * 100 + 57))
        scenes.append(Scene(datetime(year, 3, 12, 10, 25, 59, tzinfo=UTC), 2.1, "off-season", seed=year * 100 + 3))
        scenes.append(Scene(datetime(year, 11, 16, 10, 25, 59, tzinfo=UTC), 1.4, "off-season", seed=year * 100 + 11))
        if year == 2022:
            for day in (20, 28):  # either side of the baseline change, both outside the season
                when = datetime(2022, 1, day, 10, 25, 59, tzinfo=UTC)
                scenes.append(Scene(when, 3.3, "off-season", seed=202200 + day))
    return sorted(scenes, key=lambda s: s.when)


# -- pixels -----------------------------------------------------------------------------------------

def _landscape(year: int, resolution: int, grid: Grid) -> np.ndarray:
    """True reflectance x 10000 of the year's landscape, (10 bands-worth of fields) at ``resolution``:
    a dict-free array (band, row, col) holding only the bands of that resolution (others zero)."""
    h, w = grid.shape(resolution)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) * resolution / 10.0  # in 10 m pixels
    static = np.random.default_rng(5 + resolution).normal(0, 40, (len(BANDS), h, w))
    quarry = ((x - 120) ** 2 + (y - 110) ** 2) < (30 + 6 * (year - 2016)) ** 2
    out = np.zeros((len(BANDS), h, w))
    for b, band in enumerate(BANDS):
        field = band.level + 250 * np.sin(x / 23.0 + b) * np.cos(y / 31.0) + static[b]
        field = np.where(quarry, band.level * 0.5 + 2200, field)
        out[b] = field
    return out


@dataclass(frozen=True)
class Pixels:
    """One scene's true reflectance x 10000 (what a harmonised product holds) and SCL: ``bands``
    maps a band name to its array at its own resolution; ``scl`` is at 20 m. Nodata is 0."""

    bands: dict[str, np.ndarray]
    scl: np.ndarray


DARK = (slice(200, 210), slice(60, 70))  # 10 m rows, cols of the dark patch (inside the site)
ALWAYS_CLOUDY = (slice(40, 46), slice(60, 66))  # 20 m rows, cols cloudy in every in-season scene of 2021


def scene_pixels(scene: Scene, grid: Grid = SCENE_GRID) -> Pixels:
    """The scene's true reflectance and SCL (see the module's docstring); reflectance of a clear
    valid pixel is an integer, at most 1 on the dark patch and at least 1 elsewhere; NODATA where
    the product has none."""
    rng = np.random.default_rng(scene.seed)
    h20, w20 = grid.shape(20)
    scl = rng.choice(np.array([4, 5, 6], dtype=np.uint8), size=(h20, w20), p=[0.6, 0.3, 0.1])
    yy, xx = np.mgrid[0:h20, 0:w20]
    share = scene.cloud_cover / 100.0
    # clouds: blobs covering about the scene's cloud cover
    n_blobs = max(int(share * 30), 1 if share > 0.05 else 0)
    cloud = np.zeros((h20, w20), bool)
    for _ in range(n_blobs):
        cy, cx = rng.integers(0, h20), rng.integers(0, w20)
        r = rng.uniform(4, 8) * (1 + 2 * share)
        cloud |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    while cloud.mean() < share * 0.8 and share > 0.05:
        cy, cx = rng.integers(0, h20), rng.integers(0, w20)
        cloud |= (yy - cy) ** 2 + (xx - cx) ** 2 < 100
    shadow = np.roll(cloud, (6, 5), axis=(0, 1)) & ~cloud
    scl[cloud] = np.where(rng.random(cloud.sum()) < 0.5, 8, 9).astype(np.uint8)
    scl[shadow] = 3
    cirrus = (np.abs(xx - yy - (scene.seed % 60)) < 2)
    scl[cirrus & ~cloud] = 10
    saturated = rng.random((h20, w20)) < 0.002
    scl[saturated] = 1
    if scene.kind == "season" and scene.when.year == 2021:
        scl[ALWAYS_CLOUDY] = 9
    if scene.nodata_columns:
        scl[:, :scene.nodata_columns] = 0

    bands = {}
    for resolution in (10, 20):
        factor = resolution // 10
        land = _landscape(scene.when.year, resolution, grid)
        cls = np.repeat(np.repeat(scl, 2, 0), 2, 1) if resolution == 10 else scl
        for b, band in enumerate(BANDS):
            if band.resolution != resolution:
                continue
            noise = rng.normal(0, 60, land[b].shape)
            value = land[b] + noise + rng.normal(0, 30)
            if scene.kind != "season":
                value += BRIGHT
            value = np.where(np.isin(cls, (8, 9, 10)), 7000 + noise, value)
            value = np.where(cls == 3, 150 + noise / 10, value)
            value = np.rint(np.clip(value, 1, 20000))
            if resolution == 10:
                dark = rng.integers(-8, 2, size=(10, 10))  # at or below 1 in every scene
                value[DARK] = dark
            value = np.where(cls == 1, 65535 - 1000, value)  # saturated (1000 left for the offset)
            value = np.where(cls == 0, NODATA, value)
            if scene.kind == "season" and band.name in ("B3", "B11"):  # a per-band dropout
                drop = rng.random(value.shape) < 0.001 * factor
                value[drop & (cls != 0)] = NODATA
            bands[band.name] = value.astype(np.int32)
    return Pixels(bands, scl)


def to_digital_numbers(true: np.ndarray, offset_dn: int) -> np.ndarray:
    """What a product with ``offset_dn`` above reflectance x 10000 stores (uint16; NODATA becomes
    0; a valid pixel at least 1)."""
    valid = true != NODATA
    dn = np.where(valid, np.clip(true + offset_dn, 1, 65535), 0)
    return dn.astype(np.uint16)


# -- files ------------------------------------------------------------------------------------------

def write_cog(path: Path, array: np.ndarray, transform: rasterio.Affine, overviews: bool = False,
              block: int = BLOCK) -> None:
    """A tiled DEFLATE Cloud Optimized GeoTIFF, nodata 0, one band."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "COG", "width": array.shape[1], "height": array.shape[0], "count": 1,
               "dtype": array.dtype.name, "crs": CRS, "transform": transform, "nodata": 0,
               "blocksize": block, "compress": "DEFLATE", "overviews": "AUTO" if overviews else "NONE",
               "resampling": "NEAREST"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)


@dataclass(frozen=True)
class Written:
    """One item as written: its id, collection shape, scene, the offset its DNs carry (the truth,
    whatever its metadata says), whether its metadata contradicts its pixels, and its files by band
    name (and ``SCL``) under the data root."""

    item_id: str
    shape: str
    scene: Scene
    offset_dn: int
    contradicts: bool
    files: dict[str, str]  # band name or "SCL" -> path relative to the data root


def processing_baseline(when: datetime) -> str:
    """The processing baseline ESA's products of that date carry (before any reprocessing)."""
    if when < CHANGE:
        return {2019: "02.13", 2020: "02.14"}.get(when.year, "03.01" if when.year >= 2021 else "02.12")
    return {2022: "04.00", 2023: "05.09"}.get(when.year, "05.10")


def _offset_and_flags(shape: str, scene: Scene, contradiction: bool) -> tuple[int, dict[str, Any], bool]:
    """The offset the DNs carry, the harmonisation metadata the item declares, and whether they
    contradict each other."""
    after = scene.when >= CHANGE
    year = scene.when.year
    baseline = processing_baseline(scene.when)
    if shape == "earth-search-c1":
        return 1000, {"s2:processing_baseline": "05.10" if year < 2024 else "05.11"}, False
    if shape == "planetary":
        return (1000 if after else 0), {"s2:processing_baseline": baseline}, False
    # Earth Search's sentinel-2-l2a
    if contradiction and year == 2023 and scene.kind == "season" and scene.when.month == 8:
        return 0, {"s2:processing_baseline": "05.11", "earthsearch:boa_offset_applied": False}, True
    if after and year == 2022 and scene.kind == "season" and scene.when.month == 4:
        return 1000, {"s2:processing_baseline": "04.00", "earthsearch:boa_offset_applied": False}, False
    return 0, {"s2:processing_baseline": baseline, "earthsearch:boa_offset_applied": after}, False


def item_id(shape: str, scene: Scene) -> str:
    t = scene.when
    platform = "S2" + scene.platform.upper()
    if shape == "earth-search-c1":
        return f"{platform}_T32TNR_{t:%Y%m%dT%H%M%S}_L2A"
    if shape == "earth-search-l2a":
        return f"{platform}_32TNR_{t:%Y%m%d}_0_L2A"
    return f"{platform}_MSIL2A_{t:%Y%m%dT%H%M%S}_R108_T32TNR_{t:%Y%m%d}T231245"


def _asset(shape: str, band: Band | None, href: str, grid: Grid, harmonisation: dict[str, Any]) -> dict[str, Any]:
    resolution = band.resolution if band else 20
    transform = grid.transform(resolution)
    asset: dict[str, Any] = {
        "href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "gsd": resolution, "proj:shape": list(grid.shape(resolution)), "proj:transform": list(transform)[:6],
    }
    if band is None:
        asset.update(title="Scene classification map (SCL)", roles=["data"])
        if shape != "planetary":
            asset["raster:bands"] = [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20, "unit": "1"}]
        return asset
    number = band.name.removeprefix("B")
    if shape == "planetary":
        asset.update(title=f"Band {number} - {band.common_name} - {resolution}m", roles=["data"],
                     **{"proj:bbox": list(grid.bounds)})
        asset["eo:bands"] = [{"name": band.planetary, "common_name": band.common_name,
                              "description": f"Band {number} - {band.common_name}",
                              "center_wavelength": band.center, "full_width_half_max": band.fwhm}]
        return asset
    asset.update(title=f"{band.common_name} (band {number}) - {resolution}m", roles=["data", "reflectance"])
    asset["eo:bands"] = [{"name": band.earth_search, "common_name": band.common_name,
                          "description": f"{band.common_name} (band {number})",
                          "center_wavelength": band.center, "full_width_half_max": band.fwhm}]
    raster = {"nodata": 0, "data_type": "uint16", "bits_per_sample": 15, "spatial_resolution": resolution}
    raster.update(harmonisation)
    asset["raster:bands"] = [raster]
    return asset


def item_json(written: Written, grid: Grid, metadata: dict[str, Any]) -> dict[str, Any]:
    """The item of ``written`` in its collection's shape (hrefs relative to the server's root)."""
    shape, scene = written.shape, written.scene
    w, s, e, n = grid.lonlat_bounds()
    geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    when = scene.when.strftime("%Y-%m-%dT%H:%M:%S.024000Z")
    props: dict[str, Any] = {"datetime": when, "instruments": ["msi"], "eo:cloud_cover": scene.cloud_cover,
                             "proj:epsg": 32632, "s2:product_type": "S2MSI2A",
                             "s2:nodata_pixel_percentage": round(100 * scene.nodata_columns / grid.shape(20)[1], 3),
                             "s2:cloud_shadow_percentage": 2.5, "s2:thin_cirrus_percentage": 1.1, **metadata}
    baseline = metadata["s2:processing_baseline"].replace(".", "")
    stamp = f"{scene.when:%Y%m%dT%H%M%S}"
    uri = f"S2{scene.platform.upper()}_MSIL2A_{stamp}_N{baseline}_R108_T32TNR_{scene.when:%Y%m%d}T231245.SAFE"
    if shape == "planetary":
        props.update({"platform": f"Sentinel-2{scene.platform.upper()}", "constellation": "Sentinel 2",
                      "s2:mgrs_tile": "32TNR", "s2:product_uri": uri, "sat:relative_orbit": 108,
                      "sat:orbit_state": "descending", "s2:high_proba_clouds_percentage": scene.cloud_cover / 2,
                      "s2:medium_proba_clouds_percentage": scene.cloud_cover / 2,
                      "s2:granule_id": f"S2{scene.platform.upper()}_OPER_MSI_L2A_TL_{stamp}_N{baseline}"})
        extensions = ["https://stac-extensions.github.io/eo/v1.0.0/schema.json",
                      "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
                      "https://stac-extensions.github.io/projection/v1.0.0/schema.json"]
    else:
        made = f"{scene.when + timedelta(days=400 if shape == 'earth-search-c1' else 1):%Y-%m-%dT%H:%M:%S.000Z}"
        props.update({"created": made, "updated": made})
        props.update({"platform": f"sentinel-2{scene.platform}", "constellation": "sentinel-2",
                      "mgrs:utm_zone": 32, "mgrs:latitude_band": "T", "mgrs:grid_square": "NR",
                      "grid:code": "MGRS-32TNR", "s2:product_uri": uri,
                      "processing:software": {"sentinel2-to-stac": "0.1.1"}})
        extensions = ["https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                      "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                      "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                      "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
                      "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
                      "https://stac-extensions.github.io/processing/v1.1.0/schema.json"]
    # Collection 1 declares the offset in every year; the older sentinel-2-l2a from the baseline change on,
    # whatever its flag says (Element84/earth-search #66)
    declared = shape == "earth-search-c1" or (shape == "earth-search-l2a" and written.scene.when >= CHANGE)
    harmonisation = {"scale": 0.0001, "offset": -0.1} if declared else {}
    assets: dict[str, Any] = {}
    for band in BANDS:
        key = band.planetary if shape == "planetary" else band.earth_search
        assets[key] = _asset(shape, band, "/data/" + written.files[band.name], grid, harmonisation)
    assets[SCL_KEYS[shape]] = _asset(shape, None, "/data/" + written.files["SCL"], grid, {})
    return {"type": "Feature", "stac_version": "1.0.0", "stac_extensions": extensions, "id": written.item_id,
            "collection": COLLECTION_IDS[shape], "geometry": geometry, "bbox": [w, s, e, n],
            "properties": props, "assets": assets, "links": []}


def collection_json(shape: str, grid: Grid, years: tuple[int, ...]) -> dict[str, Any]:
    title = {"earth-search-c1": "Sentinel-2 Collection 1 Level-2A", "earth-search-l2a": "Sentinel-2 Level-2A",
             "planetary": "Sentinel-2 Level-2A"}[shape]
    return {"type": "Collection", "stac_version": "1.0.0", "id": COLLECTION_IDS[shape], "title": title,
            "description": f"{title}, generated scenes for EuroMine's tests", "license": "proprietary",
            "extent": {"spatial": {"bbox": [list(grid.lonlat_bounds())]},
                       "temporal": {"interval": [[f"{min(years)}-01-01T00:00:00Z", f"{max(years)}-12-31T23:59:59Z"]]}},
            "links": []}


@dataclass(frozen=True)
class ShapeCatalogue:
    """What ``write_shape`` made: the collection JSON, the items as written, their JSON."""

    shape: str
    collection: dict[str, Any]
    written: list[Written]
    items: list[dict[str, Any]]


def write_shape(root: Path, shape: str, years: tuple[int, ...], grid: Grid = SCENE_GRID, contradiction: bool = False,
                overviews: bool = False) -> ShapeCatalogue:
    """Write every scene of ``years`` in ``shape`` under ``root/<shape>/`` (COGs) and return its
    items; ``root`` is the folder the server serves ``/data/`` from."""
    folder = shape + ("-contradiction" if contradiction else "")
    written, items = [], []
    for scene in timeline(years):
        offset_dn, metadata, contradicts = _offset_and_flags(shape, scene, contradiction)
        iid = item_id(shape, scene)
        pixels = scene_pixels(scene, grid)
        files = {}
        for band in BANDS:
            key = band.planetary if shape == "planetary" else band.earth_search
            rel = f"{folder}/{scene.when.year}/{iid}/{key}.tif"
            write_cog(root / rel, to_digital_numbers(pixels.bands[band.name], offset_dn),
                      grid.transform(band.resolution), overviews, grid.block)
            files[band.name] = rel
        rel = f"{folder}/{scene.when.year}/{iid}/{SCL_KEYS[shape]}.tif"
        write_cog(root / rel, pixels.scl, grid.transform(20), overviews, grid.block)
        files["SCL"] = rel
        entry = Written(iid, shape, scene, offset_dn, contradicts, files)
        written.append(entry)
        items.append(item_json(entry, grid, metadata))
    return ShapeCatalogue(shape, collection_json(shape, grid, years), written, items)


def save(catalogue: ShapeCatalogue, path: Path) -> None:
    """The catalogue as JSON (collection, items and what the generator knows of each item)."""
    doc = {"shape": catalogue.shape, "collection": catalogue.collection, "items": catalogue.items,
           "written": [{"item_id": w.item_id, "when": w.scene.when.isoformat(), "cloud_cover": w.scene.cloud_cover,
                        "kind": w.scene.kind, "seed": w.scene.seed, "nodata_columns": w.scene.nodata_columns,
                        "offset_dn": w.offset_dn, "contradicts": w.contradicts, "files": w.files}
                       for w in catalogue.written]}
    path.write_text(json.dumps(doc))


def load(path: Path) -> ShapeCatalogue:
    doc = json.loads(path.read_text())
    written = [Written(w["item_id"], doc["shape"],
                       Scene(datetime.fromisoformat(w["when"]), w["cloud_cover"], w["kind"], w["seed"],
                             w["nodata_columns"]), w["offset_dn"], w["contradicts"], w["files"])
               for w in doc["written"]]
    return ShapeCatalogue(doc["shape"], doc["collection"], written, doc["items"])
