"""The GDAL settings every mapping run reads and writes under (core.engine.inference.engine_env)."""
import threading

import numpy as np
import pytest
import rasterio
from osgeo import gdal
from rasterio.transform import from_origin
from rasterio.windows import Window

from euromine_qgis.core.engine.inference import GDAL_CACHE_BYTES, engine_env
from euromine_qgis.core.io.raster import Grid, probability_profile, write_probability
from tests.rasters import random_scene, write_image


def test_block_cache_is_bounded_in_bytes_and_restored():
    before = gdal.GetCacheMax()
    with engine_env():
        assert gdal.GetCacheMax() == GDAL_CACHE_BYTES >= 64 * 2**20
    assert gdal.GetCacheMax() == before


@pytest.mark.slow
def test_masked_probabilities_written_while_another_thread_reads(tmp_path):
    """A uint8 probability raster (internal mask band) written row block by row block while a
    reader thread decodes an image, as the engine's writer and reader do: with a block cache
    too small to hold a block, the reader flushed the writer's dirty blocks and GDAL failed
    ("error occurred while writing a dirty block") or crashed."""
    image = write_image(tmp_path / "image.tif", random_scene(130, 170, seed=3))
    grid = Grid(None, from_origin(0, 0, 1, 1), 170, 130)
    stop = threading.Event()

    def read() -> None:
        with rasterio.open(image) as src:
            while not stop.is_set():
                for row in range(0, 130, 16):
                    src.read(window=Window(0, row, 170, min(64, 130 - row)))

    reader = threading.Thread(target=read)
    probability = np.linspace(0, 1, 48 * 170, dtype=np.float32).reshape(48, 170)
    valid = probability > 0.1
    with engine_env():
        reader.start()
        try:
            for n in range(200):
                with rasterio.open(tmp_path / f"p{n}.tif", "w", **probability_profile(grid, "uint8")) as dst:
                    for row0 in range(0, 130, 48):
                        h = min(48, 130 - row0)
                        write_probability(dst, probability[:h], valid[:h], Window(0, row0, 170, h))
        finally:
            stop.set()
            reader.join()
    with rasterio.open(tmp_path / "p199.tif") as written:
        expected = np.where(valid, np.rint(probability * 255.0), 0).astype(np.uint8)
        np.testing.assert_array_equal(written.read(1)[:48], expected)
        np.testing.assert_array_equal(written.read_masks(1)[:48], np.where(valid, 255, 0))
