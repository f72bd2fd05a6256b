"""detectchange with a change model decodes each image once, for both models and both tilings."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from euromine_qgis.core.engine import inference
from euromine_qgis.core.engine.inference import TileSettings, tile_layout
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.io import row_reader
from euromine_qgis.core.io.row_reader import RowReader
from euromine_qgis.core.maps.bitemporal import detect_change
from tests.onnx_factory import change_model, conv_model, metadata
from tests.plain_run import PLAIN_INPUT
from tests.rasters import random_scene, write_image
from tests.unit.test_row_reader import LAYOUTS, CountingReads, strip_windows


@pytest.mark.parametrize("layout", LAYOUTS)
def test_views_read_their_windows_and_each_block_row_once(tmp_path, layout):
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), **LAYOUTS[layout])
    with rasterio.open(path) as opened:
        src = CountingReads(opened)
        tall, short = RowReader(src, 48).views(2)
        # two tilings interleaved, the taller one running ahead as a faster stream would
        windows = [(tall, w) for w in strip_windows(203, 171, 48, 12, 2)]
        windows += [(short, w) for w in strip_windows(203, 171, 20, 6, 3)]
        windows.sort(key=lambda vw: (vw[1].row_off - (30 if vw[0] is tall else 0)))
        for view, window in windows:
            np.testing.assert_array_equal(view.read(window), opened.read(window=window))
        with pytest.raises(ValueError, match="top to bottom"):
            short.read(Window(0, 0, 171, 20))
    assert sum(w.height for w in src.windows) == 203  # every row decoded once for both views
    assert [w.row_off for w in src.windows] == sorted({w.row_off for w in src.windows})


def _models(tmp_path):
    """A footprint and a change model whose declared receptive fields give different tilings."""
    footprint = Model(conv_model(tmp_path / "fp.onnx", meta=metadata(receptive_field=5, alignment=1)), device="cpu",
                      scale=1.0)
    change_meta = metadata(name="test_change", task="change", classes=["no_change", "change"],
                           receptive_field=1, alignment=1)
    change = Model(change_model(tmp_path / "change.onnx", meta=change_meta), device="cpu", scale=1.0)
    return footprint, change


@pytest.mark.parametrize("threads", [1, 3])
def test_each_image_is_decoded_once_with_the_same_change_map(tmp_path, monkeypatch, threads):
    before = random_scene(157, 133, seed=8)
    after = random_scene(157, 133, seed=9)
    after[:, 60:62, 10:90] = 0  # nodata rows crossing tiles and blocks
    paths = [write_image(tmp_path / f"{name}.tif", data, tiled=True, blockxsize=32, blockysize=32)
             for name, data in (("before", before), ("after", after))]
    footprint, change = _models(tmp_path)
    tiles = {tile_layout(m, 157, 133, TileSettings(batch_size=0)).tile_height for m in (footprint, change)}
    assert len(tiles) == 2  # the two models tile the images differently
    monkeypatch.setattr(inference, "decode_threads", lambda: threads)
    decoded: dict[str, int] = {}
    real_read = row_reader.read_window

    def counting_read(src, window, indexes, out=None):
        decoded[src.name] = decoded.get(src.name, 0) + window.height * window.width
        return real_read(src, window, indexes, out=out)

    monkeypatch.setattr(row_reader, "read_window", counting_read)
    once = detect_change(*paths, tmp_path / "once.tif", footprint, change, threshold=0.5,
                         settings=TileSettings(batch_size=0), image_input=PLAIN_INPUT)
    assert decoded == {str(p): 157 * 133 for p in paths}

    decoded.clear()
    monkeypatch.setattr(inference, "ROW_BUFFER_BUDGET", 0)  # too wide to keep rows: each stream reads on its own
    apart = detect_change(*paths, tmp_path / "apart.tif", footprint, change, threshold=0.5,
                          settings=TileSettings(batch_size=0), image_input=PLAIN_INPUT)
    assert all(n > 157 * 133 for n in decoded.values())
    with rasterio.open(once.change) as a, rasterio.open(apart.change) as b:
        np.testing.assert_array_equal(a.read(), b.read())
    assert (once.gain_ha, once.loss_ha) == (apart.gain_ha, apart.loss_ha)


def test_views_need_kept_rows(tmp_path):
    path = write_image(tmp_path / "scene.tif", random_scene(40, 30, seed=1))
    with rasterio.open(path) as src, ThreadPoolExecutor(2) as pool:
        with pytest.raises(ValueError, match="keeps its rows"):
            RowReader(src, 16, keep_rows=False, pool=pool, pieces=2).views(2)
