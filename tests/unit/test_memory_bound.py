"""The engine's memory does not grow with the scene's width: the peak resident set of a child
process mapping a scene six times wider stays near the narrow one's. The peak is the child's
VmHWM, the high-water mark of its own memory since it started: its ``ru_maxrss`` (and the parent's
RUSAGE_CHILDREN) also counts the parent's resident set, which a spawned child inherits until its
exec (a large test process would hide the child's). Both are wider than
one panel of the tiny spectral_baseline's tiles (engine.inference.PANEL_BYTES: about 5000 px)."""
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.mapping_peak import mapping_peak
from tests.rasters import random_scene, read_raster, repeated_vrt, write_image

HEIGHT, TILE_WIDTH = 256, 1500
NARROW, WIDE = 6_000, 36_000
# What the wide scene may add to the peak (measured: 21 MiB, GDAL's datasets for a VRT of more
# sources and the outputs' blocks). Full-width strips (the engine before panels: accumulators,
# row blocks, pixel areas and the row buffer a tile high and 36 000 px wide) added 85 MiB.
MAX_GROWTH = 40 * 2**20

def peak_bytes(image: Path, out: Path) -> int:
    """The peak of mapping ``image`` with the spectral baseline, GDAL's block cache at 32 MiB (bounded
    on its own, the outputs' blocks: not what is measured here), probabilities written too."""
    return int(mapping_peak(image, out, gdal_cache_bytes=32 * 2**20, probabilities="uint8")["peak"])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is read from Linux's /proc")
def test_peak_memory_does_not_grow_with_the_width(tmp_path):
    data = random_scene(HEIGHT, TILE_WIDTH, seed=4)
    tile = write_image(tmp_path / "tile.tif", data, crs="EPSG:32632", transform=from_origin(500_000, 4_520_000, 10, 10),
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    narrow = peak_bytes(repeated_vrt(tile, HEIGHT, NARROW, tmp_path / "narrow.vrt"), tmp_path / "narrow")
    wide = peak_bytes(repeated_vrt(tile, HEIGHT, WIDE, tmp_path / "wide.vrt"), tmp_path / "wide")
    with rasterio.open(tmp_path / "wide" / "footprint_2020.tif") as out:
        assert out.shape == (HEIGHT, WIDE)
    assert wide - narrow <= MAX_GROWTH, \
        f"peak {narrow / 2**20:.0f} MiB at {NARROW} px wide, {wide / 2**20:.0f} MiB at {WIDE}"


@pytest.mark.slow
def test_windowed_passes_cut_wide_grids_into_columns(tmp_path, monkeypatch):
    """With windows smaller than a row band (a grid wider than WINDOW_PIXELS allows), change
    layers with a temporal filter and change between footprints come out as with whole rows."""
    from euromine_qgis.core.io import masks
    from euromine_qgis.core.io.raster import Grid
    from euromine_qgis.core.maps.bitemporal import change_from_footprints
    from euromine_qgis.core.maps.change_layers import change_layers
    from euromine_qgis.core.progress import Reporter
    from tests.rasters import write_mask

    rng = np.random.default_rng(3)
    years = [2017, 2018, 2019, 2020]
    footprints = []
    for n, year in enumerate(years):
        data = (rng.random((90, 1100)) < 0.3 + 0.1 * n).astype(np.uint8)
        data[:5, :40] = 255
        footprints.append((year, write_mask(tmp_path / "in" / f"footprint_{year}.tif", data, 255, blocks=32)))

    def run(folder: Path):
        layers = change_layers(footprints, [(2017, 2020)], folder, temporal_filter="smooth3", min_area_ha=0.0)
        change = change_from_footprints(footprints[0][1], footprints[-1][1], folder / "change.tif")
        rasters = {p.name: read_raster(p) for p in sorted(folder.glob("*.tif"))}
        return layers, change, rasters

    whole = run(tmp_path / "whole")
    monkeypatch.setattr(masks, "WINDOW_PIXELS", 32 * 256)  # windows of 32 rows by 256 columns
    grid = Grid(None, None, 1100, 90)
    assert [(w.col_off, w.width) for w in masks.block_windows(grid, 32, Reporter())][:5] == \
        [(0, 256), (256, 256), (512, 256), (768, 256), (1024, 76)]
    cut = run(tmp_path / "cut")
    assert whole[2].keys() == cut[2].keys()
    for name, data in whole[2].items():
        np.testing.assert_array_equal(cut[2][name], data, err_msg=name)
    assert cut[1].gain_ha == pytest.approx(whole[1].gain_ha) and cut[1].loss_ha == pytest.approx(whole[1].loss_ha)
    assert cut[0].area_ha == pytest.approx(whole[0].area_ha)
