"""The per-pixel rule: numpy's median of the clear observations, rounded half to even, clipped to
1–32767, nodata where none is clear; memory bounded by row blocks."""
from __future__ import annotations

import warnings

import numpy as np

from euromine_qgis.core.archive.composite import (
    BLOCK_BUDGET_BYTES,
    BLOCK_BYTES_PER_OBSERVATION,
    _median_of_histogram,
    block_rows,
    median_values,
)
from euromine_qgis.core.io.raster import Grid
from tests.stac.scenes import EXCLUDED_SCL

NAN = np.nan


def test_the_median_follows_numpy_and_rounds_half_to_even():
    stack = np.array([[[1.0, 4.0, 2.0, NAN, -50.0, 40000.0]],
                      [[2.0, 5.0, 4.0, NAN, -30.0, 40000.0]],
                      [[NAN, NAN, 9.0, NAN, NAN, NAN]]], dtype=np.float32)
    # [1, 2] -> 1.5 -> 2; [4, 5] -> 4.5 -> 4; [2, 4, 9] -> 4; none -> 0; negative -> 1; too bright -> 32767
    assert median_values(stack).tolist() == [[2, 4, 4, 0, 1, 32767]]
    rng = np.random.default_rng(1)
    values = rng.integers(-100, 5000, (7, 20, 30)).astype(np.float32)
    values[rng.random(values.shape) < 0.4] = NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pixels without an observation
        expected = np.nanmedian(values, axis=0)
    got = median_values(values)
    has = ~np.isnan(expected)
    assert (got[~has] == 0).all()
    assert (got[has] == np.clip(np.rint(expected[has]), 1, 32767)).all()


def test_rows_per_block_keep_the_observations_within_the_budget():
    from rasterio.transform import from_origin
    grid = Grid(None, from_origin(0, 0, 10, 10), 5000, 20000)
    rows = block_rows(60, grid)
    assert 1 <= rows < grid.height
    assert 60 * rows * grid.width * BLOCK_BYTES_PER_OBSERVATION <= BLOCK_BUDGET_BYTES
    small = Grid(None, from_origin(0, 0, 10, 10), 100, 80)
    assert block_rows(60, small) == 80


def test_the_median_of_a_count_histogram_is_the_pixels_median():
    rng = np.random.default_rng(2)
    for size in (1, 2, 7, 100):
        counts = rng.integers(0, 9, size)
        assert _median_of_histogram(np.bincount(counts, minlength=9)) == np.median(counts)
    assert _median_of_histogram(np.zeros(4, dtype=np.int64)) == 0.0


def _scene_files(folder, item, seed):
    """Write each band and SCL of ``item`` as a GeoTIFF in ``folder`` (10 m or 20 m on one UTM grid) and point
    the item's hrefs at them."""
    import rasterio
    from rasterio.transform import from_origin

    from euromine_qgis.core.archive.bands import find_bands

    rng = np.random.default_rng(seed)
    found = find_bands(item["id"], item["assets"])
    for info in [*found.bands.values(), found.scl]:
        size = info.raster["spatial_resolution"]
        side = 600 // size
        if info is found.scl:
            values = rng.choice(np.array([4, 5, 8, 3, 0], np.uint8), (side, side))
        else:
            values = rng.integers(900, 4000, (side, side)).astype(np.uint16)
            values[:, :3] = 0
        path = folder / f"{item['id']}_{info.key}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=1, dtype=values.dtype,
                           crs="EPSG:32633", transform=from_origin(500000, 5540000, size, size), nodata=0,
                           tiled=True, blockxsize=16, blockysize=16) as dst:
            dst.write(values, 1)
        item["assets"][info.key]["href"] = str(path)
    return item


def test_row_blocks_give_the_same_composite_as_one_block(tmp_path, monkeypatch):
    """Local GeoTIFFs (no server), composited in one block and in blocks of a few rows."""
    import rasterio
    from rasterio.transform import from_origin

    from euromine_qgis.core.archive import composite
    from euromine_qgis.core.archive.search import Scene
    from euromine_qgis.core.progress import Reporter
    from tests.stac.items import earth_search

    items = []
    for k in range(3):
        item = earth_search()
        item["id"] = f"scene{k}"
        items.append(_scene_files(tmp_path, item, k))
    scenes = [composite.SceneAssets.of(Scene(i["id"], "2022-06-01", "", 0.0, i)) for i in items]
    grid = Grid(rasterio.crs.CRS.from_epsg(32633), from_origin(500000, 5539950, 10, 10), 47, 53)
    made = {}
    for budget in (composite.BLOCK_BUDGET_BYTES, 3 * 47 * composite.BLOCK_BYTES_PER_OBSERVATION * 5):
        monkeypatch.setattr(composite, "BLOCK_BUDGET_BYTES", budget)
        folder = tmp_path / str(budget)
        folder.mkdir()
        result = composite.compose_year(scenes, grid, frozenset(EXCLUDED_SCL), folder / "image.tif",
                                        folder / "clear.tif", lambda href: href, "local", Reporter())
        with rasterio.open(folder / "image.tif") as image, rasterio.open(folder / "clear.tif") as clear:
            made[budget] = (image.read(), clear.read(1), result.median_clear)
    assert composite.block_rows(3, grid) == 5
    (one, blocks) = made.values()
    assert (one[0] == blocks[0]).all() and (one[1] == blocks[1]).all() and one[2] == blocks[2]
    assert one[0].any() and (one[0][:, :, :1] == 0).all()  # the nodata strip stays nodata
