"""Writing small real GeoTIFFs for tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

TRANSFORM = from_origin(15.0, 50.0, 10 / (111320 * np.cos(np.radians(50))), 10 / 110574)
WGS84 = CRS.from_epsg(4326)


def write_image(path: Path, data: np.ndarray, nodata: float | None = 0, crs: CRS | None = WGS84,
                transform=TRANSFORM, **creation) -> Path:
    """Write a (C, H, W) array as a GeoTIFF with the given nodata, CRS, transform and GeoTIFF
    creation options (``tiled``, ``blockysize``, ``compress`` ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype, nodata=nodata, transform=transform, **creation)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def read_raster(path: Path) -> np.ndarray:
    """Every band of the raster at ``path``, the file closed again."""
    with rasterio.open(path) as src:
        return src.read()


def random_scene(height: int, width: int, seed: int = 0, bands: int = 10) -> np.ndarray:
    """Spatially smooth int16 reflectance-like values (so convolutions see structure)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(1500, 600, (bands, height, width))
    kernel = np.ones(5) / 5
    for axis in (1, 2):
        base = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, base)
    return np.clip(base, 1, 10000).astype(np.int16)


def write_mask(path: Path, data: np.ndarray, nodata: float | None, crs: CRS | None = WGS84,
               transform=TRANSFORM, blocks: int | None = None, compress: str | None = None) -> Path:
    """Write a 2-D array as a single-band mask GeoTIFF (tiled in ``blocks`` squares if given,
    compressed with ``compress`` if given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype,
                   nodata=nodata)
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    if blocks:
        profile.update(tiled=True, blockxsize=blocks, blockysize=blocks)
    if compress:
        profile["compress"] = compress
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def damaged_image(path: Path) -> Path:
    """A 50 × 40 tiled, deflate-compressed image whose header is whole but whose block (1, 1) is garbage."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=50, height=40, count=10, dtype="int16", nodata=0,
                       crs="EPSG:4326", transform=TRANSFORM, tiled=True, blockxsize=16, blockysize=16,
                       compress="deflate") as dst:
        dst.write(random_scene(40, 50))
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    data = bytearray(path.read_bytes())
    data[offset:offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return path


def repeated_vrt(tile: Path, height: int, width: int, out: Path) -> Path:
    """A VRT of ``height`` × ``width`` px that repeats ``tile`` side by side and top to bottom (read
    for real through GDAL's VRT driver), with the tile's nodata."""
    with rasterio.open(tile) as src:
        count, dtype, (th, tw), geo, srs = src.count, src.dtypes[0], src.shape, src.transform.to_gdal(), src.crs
        nodata = "" if src.nodata is None else f"<NoDataValue>{src.nodata!r}</NoDataValue>"
    gdal_type = {"int16": "Int16", "uint16": "UInt16", "float32": "Float32"}[dtype]
    sources = [(y, x, min(th, height - y), min(tw, width - x))
               for y in range(0, height, th) for x in range(0, width, tw)]
    bands = "".join(
        f'<VRTRasterBand dataType="{gdal_type}" band="{b}">{nodata}'
        + "".join(f'<SimpleSource><SourceFilename relativeToVRT="0">{tile}</SourceFilename>'
                  f'<SourceBand>{b}</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
                  f'<DstRect xOff="{x}" yOff="{y}" xSize="{w}" ySize="{h}"/></SimpleSource>'
                  for y, x, h, w in sources)
        + "</VRTRasterBand>" for b in range(1, count + 1))
    out.write_text(f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{srs.to_wkt()}</SRS>'
                   f"<GeoTransform>{', '.join(repr(v) for v in geo)}</GeoTransform>{bands}</VRTDataset>")
    return out
