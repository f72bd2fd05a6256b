"""The bytes a window needs from a COG: the compressed tiles of its full-resolution level that the
window touches, from the file's own tile index (TIFF TileByteCounts, through GDAL's TIFF metadata)."""
from __future__ import annotations

import math
from pathlib import Path

import rasterio
from rasterio.windows import from_bounds


def tile_bytes(path: Path, bounds: tuple[float, float, float, float]) -> int:
    """The bytes of the tiles of ``path`` (band 1, full resolution) under ``bounds`` (in its CRS)."""
    with rasterio.open(path) as src:
        window = from_bounds(*bounds, transform=src.transform)
        block_h, block_w = src.block_shapes[0]
        first_row = max(0, math.floor(window.row_off / block_h))
        first_col = max(0, math.floor(window.col_off / block_w))
        last_row = min(math.ceil(src.height / block_h), math.ceil((window.row_off + window.height) / block_h))
        last_col = min(math.ceil(src.width / block_w), math.ceil((window.col_off + window.width) / block_w))
        return sum(int(src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1) or 0)
                   for row in range(first_row, last_row) for col in range(first_col, last_col))


def first_tile_offset(path: Path) -> int:
    """Where the first tile's bytes start: what comes before is the header (IFDs and tags)."""
    with rasterio.open(path) as src:
        block_h, block_w = src.block_shapes[0]
        return min(int(src.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=1) or 2**62)
                   for r in range(math.ceil(src.height / block_h)) for c in range(math.ceil(src.width / block_w)))
