"""The engine's block-row reader: same pixels as direct windowed reads, each block row read once."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from euromine_qgis.core.engine import inference
from euromine_qgis.core.engine.inference import TileSettings, Tiling, _Plan, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.io.row_reader import RowReader, buffer_bytes, rows_per_read, split_at_blocks
from tests.rasters import TRANSFORM, random_scene, write_image

LAYOUTS = {
    "tiled 32, deflate": dict(tiled=True, blockxsize=32, blockysize=32, compress="deflate", predictor=2),
    "strips of 7 rows": dict(blockysize=7),
    "tiled 256 (taller than a strip)": dict(tiled=True, blockxsize=256, blockysize=256),
}


class CountingReads:
    """A dataset that records every window read from it."""

    def __init__(self, src):
        self.src, self.windows = src, []

    def __getattr__(self, name):
        return getattr(self.src, name)

    def read(self, indexes=None, window=None, out=None):
        self.windows.append(window)
        return self.src.read(indexes, window=window, out=out)


def strip_windows(height: int, width: int, tile: int, overlap: int, batch: int):
    """The windows the engine asks for: strips top to bottom, batches of tiles left to right."""
    plan = _Plan(height, width, Tiling(tile, overlap, alignment=1, receptive_field=None))
    for y0 in plan.ys:
        for start in range(0, len(plan.xs), batch):
            x0s = plan.xs[start:start + batch]
            yield Window(x0s[0], y0, min(x0s[-1] + plan.tw, width) - x0s[0], min(plan.th, height - y0))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keep_rows", [True, False])
def test_windows_equal_direct_reads(tmp_path, layout, keep_rows):
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), **LAYOUTS[layout])
    with rasterio.open(path) as src:
        reader = RowReader(src, 48, keep_rows)
        for window in strip_windows(203, 171, 48, 12, 2):
            np.testing.assert_array_equal(reader.read(window), src.read(window=window))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("pieces", [2, 3, 5])
def test_block_rows_decoded_in_pieces_on_threads(tmp_path, layout, pieces):
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), **LAYOUTS[layout])
    with rasterio.open(path) as src, ThreadPoolExecutor(pieces) as pool:
        reader = RowReader(src, 48, pool=pool, pieces=pieces)
        try:
            for window in strip_windows(203, 171, 48, 12, 2):
                np.testing.assert_array_equal(reader.read(window), src.read(window=window))
        finally:
            reader.close()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("pieces", [1, 2, 4, 50])
def test_pieces_tile_the_window_along_block_boundaries(tmp_path, layout, pieces):
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), **LAYOUTS[layout])
    with rasterio.open(path) as src:
        block_height, block_width = src.block_shapes[0]
        step = rows_per_read(src, 48)
        height = min(step, 203)  # the first read: whole block rows, or all the image's rows
        window = Window(0, 0, 171, height)
        parts = split_at_blocks(src, window, pieces)
    assert 1 <= len(parts) <= pieces and all(p.width > 0 and p.height > 0 for p in parts)
    covered = np.zeros((height, 171), int)
    for p in parts:
        covered[p.row_off:p.row_off + p.height, p.col_off:p.col_off + p.width] += 1
        assert p.col_off % block_width == 0 and p.row_off % block_height == 0
    assert (covered == 1).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_block_row_is_read_once(tmp_path, layout):
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), **LAYOUTS[layout])
    with rasterio.open(path) as opened:
        src = CountingReads(opened)
        block_height = opened.block_shapes[0][0]
        step = rows_per_read(opened, 48)
        assert step % block_height == 0 and step >= 48 and step - block_height < 48
        reader = RowReader(src, 48)
        for window in strip_windows(203, 171, 48, 12, 2):
            reader.read(window)
    expected = [Window(0, y, 171, min(step, 203 - y)) for y in range(0, 203, step)]
    assert src.windows == expected


def test_rows_must_be_read_top_to_bottom(tmp_path):
    path = write_image(tmp_path / "scene.tif", random_scene(100, 60, seed=1), blockysize=12)  # reads of 36 rows
    with rasterio.open(path) as src:
        reader = RowReader(src, 32)
        reader.read(Window(0, 40, 60, 32))
        reader.read(Window(0, 80, 60, 20))  # rows above 72 are no longer held
        with pytest.raises(ValueError, match="top to bottom"):
            reader.read(Window(0, 10, 60, 32))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_windows_that_skip_rows(tmp_path, layout):
    """A window far below the rows held restarts reading at its block row."""
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), **LAYOUTS[layout])
    with rasterio.open(path) as src:
        reader = RowReader(src, 48)
        for window in (Window(3, 0, 50, 48), Window(0, 101, 171, 48), Window(9, 149, 70, 48), Window(0, 190, 171, 13)):
            np.testing.assert_array_equal(reader.read(window), src.read(window=window))
        with pytest.raises(ValueError, match="at most 48 rows"):
            reader.read(Window(0, 190, 171, 49))


def test_buffer_bytes_counts_every_image(tmp_path):
    path = write_image(tmp_path / "scene.tif", random_scene(100, 60, seed=1), tiled=True, blockxsize=16, blockysize=16)
    with rasterio.open(path) as src:
        # 40 rows, a 48-row read and a 16-row block row; 60 columns of 10 int16 bands
        one = buffer_bytes([src], 40)
        assert one == (40 + 48 + 16) * 60 * 10 * 2
        assert buffer_bytes([src, src, src], 40) == 3 * one
        assert buffer_bytes([src, src], 40, [[1, 2, 3], None]) == one * 3 // 10 + one  # only the bands read


@pytest.mark.parametrize("layout", LAYOUTS)
def test_engine_output_does_not_depend_on_keeping_rows(tmp_path, conv_onnx, monkeypatch, layout):
    data = random_scene(157, 133, seed=8)
    data[:, 60:62, 10:90] = 0  # nodata rows crossing tile and block borders
    path = write_image(tmp_path / "scene.tif", data, **LAYOUTS[layout])
    model = Model(conv_onnx, device="cpu", scale=1.0)
    settings = TileSettings(tile=64, overlap=16, batch_size=3)

    def run():
        with rasterio.open(path) as src:
            blocks = list(predict_rows(model, src, settings))
        return np.concatenate([b.probability for b in blocks]), np.concatenate([b.valid for b in blocks])

    kept_prob, kept_valid = run()
    monkeypatch.setattr(inference, "ROW_BUFFER_BUDGET", 0)  # every window read on its own
    direct_prob, direct_valid = run()
    np.testing.assert_array_equal(kept_valid, direct_valid)
    assert not kept_valid[60:62, 10:90].any()
    np.testing.assert_array_equal(kept_prob[kept_valid], direct_prob[direct_valid])


def mosaic_vrt(tmp_path, data):
    """A VRT mosaic written by hand over two GeoTIFFs (the scene's top and bottom rows), its
    sources named relative to ``tmp_path``: the XML text and the whole scene as one GeoTIFF."""
    split = 90
    write_image(tmp_path / "top.tif", data[:, :split], tiled=True, blockxsize=32, blockysize=32)
    bottom = window_transform(Window(0, split, data.shape[2], data.shape[1] - split), TRANSFORM)
    write_image(tmp_path / "bottom.tif", data[:, split:], transform=bottom, tiled=True, blockxsize=32, blockysize=32)
    height, width = data.shape[1:]
    bands = "".join(
        f'<VRTRasterBand dataType="Int16" band="{b}"><NoDataValue>0</NoDataValue>'
        + "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="1">{name}</SourceFilename><SourceBand>{b}</SourceBand>'
            f'<SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{rows}"/>'
            f'<DstRect xOff="0" yOff="{top}" xSize="{width}" ySize="{rows}"/></SimpleSource>'
            for name, top, rows in (("top.tif", 0, split), ("bottom.tif", split, height - split))
        )
        + "</VRTRasterBand>"
        for b in range(1, data.shape[0] + 1)
    )
    geo = ", ".join(repr(v) for v in TRANSFORM.to_gdal())
    return (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>EPSG:4326</SRS>'
            f"<GeoTransform>{geo}</GeoTransform>{bands}</VRTDataset>")


SOURCES = {
    # the VRT's text, its relative sources found through the VRT driver's ROOT_PATH open option
    "VRT mosaic in memory": lambda tmp_path, xml: rasterio.open(xml, ROOT_PATH=str(tmp_path)),
    "VRT mosaic file": lambda tmp_path, xml: (tmp_path / "mosaic.vrt").write_text(xml) and rasterio.open(
        tmp_path / "mosaic.vrt"),
    "warped VRT": lambda tmp_path, xml: (tmp_path / "mosaic.vrt").write_text(xml) and on_own_grid(
        WarpedVRT, rasterio.open(tmp_path / "mosaic.vrt")),
}


def on_own_grid(warped, src):
    """A warped VRT of ``src`` onto ``src``'s own grid: a dataset only its one handle can read."""
    return warped(src, crs=src.crs, transform=src.transform, width=src.width, height=src.height)


@pytest.mark.parametrize("source", SOURCES)
def test_engine_reads_vrt_and_in_memory_sources_on_threads(tmp_path, conv_onnx, monkeypatch, source):
    """Decoding threads open their own handles with the source's open options, or read through the
    caller's handle where a dataset lives in that handle alone; pixels equal the scene's GeoTIFF."""
    data = random_scene(157, 133, seed=8)
    data[:, 60:62, 10:90] = 0
    whole = write_image(tmp_path / "whole.tif", data)
    xml = mosaic_vrt(tmp_path, data)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    settings = TileSettings(tile=64, overlap=16, batch_size=3)
    monkeypatch.setattr(inference, "decode_threads", lambda: 3)  # threads on any machine

    def run(src):
        with src:
            blocks = list(predict_rows(model, [src], settings))
        return np.concatenate([b.probability for b in blocks]), np.concatenate([b.valid for b in blocks])

    expected_prob, expected_valid = run(rasterio.open(whole))
    prob, valid = run(SOURCES[source](tmp_path, xml))
    np.testing.assert_array_equal(valid, expected_valid)
    np.testing.assert_array_equal(prob[valid], expected_prob[expected_valid])


def test_threads_open_the_source_with_its_open_options(tmp_path):
    """A source opened at an overview level is read at that level by every thread."""
    path = write_image(tmp_path / "scene.tif", random_scene(203, 171, seed=4), tiled=True, blockxsize=32, blockysize=32)
    with rasterio.open(path, "r+") as dst:
        dst.build_overviews([2])
    with rasterio.open(path, OVERVIEW_LEVEL=0) as src, ThreadPoolExecutor(3) as pool:
        reader = RowReader(src, 24, pool=pool, pieces=3)
        try:
            for y in range(0, src.height - 24, 20):
                window = Window(0, y, src.width, 24)
                np.testing.assert_array_equal(reader.read(window), src.read(window=window))
        finally:
            reader.close()
