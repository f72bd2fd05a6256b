import numpy as np
import pytest
import rasterio

from euromine_qgis.core.engine import inference
from euromine_qgis.core.engine.inference import TileSettings, predict_rows
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import Cancelled
from euromine_qgis.core.progress import Reporter
from tests.rasters import random_scene, write_image


def whole_scene_probability(model: Model, data: np.ndarray) -> np.ndarray:
    return model.positive_probability(model.normalize(data[None]))[0]


def stitched(model, path, settings):
    with rasterio.open(path) as src:
        blocks = list(predict_rows(model, src, settings))
        rows = np.concatenate([b.probability for b in blocks])
        valid = np.concatenate([b.valid for b in blocks])
        starts = [b.row0 for b in blocks]
    assert starts == sorted(starts) and rows.shape == (src.height, src.width)
    return rows, valid


@pytest.mark.parametrize("shape", [(200, 173), (64, 64), (65, 300), (300, 65)])
@pytest.mark.parametrize("overlap, batch", [(8, 1), (16, 3), (31, 8)])
def test_tiled_equals_whole_scene(tmp_path, conv_onnx, shape, overlap, batch):
    data = random_scene(*shape, seed=shape[0])
    path = write_image(tmp_path / "scene.tif", data)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    prob, valid = stitched(model, path, TileSettings(tile=64, overlap=overlap, batch_size=batch))
    assert valid.all()
    np.testing.assert_allclose(prob, whole_scene_probability(model, data), atol=2e-5)


def test_scene_smaller_than_patch(tmp_path, conv_onnx):
    data = random_scene(23, 41, seed=3)
    path = write_image(tmp_path / "small.tif", data)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    prob, valid = stitched(model, path, TileSettings(tile=64, overlap=16, batch_size=0))
    assert prob.shape == (23, 41) and valid.all()
    assert np.all((prob >= 0) & (prob <= 1))
    # reflect padding: only the pixels whose 5x5 view reaches the padded border may differ
    np.testing.assert_allclose(prob[:-2, :-2], whole_scene_probability(model, data)[:-2, :-2], atol=2e-5)


def test_one_pixel_nodata_stripe_stays_nodata(tmp_path, conv_onnx):
    data = random_scene(150, 130, seed=5)
    data[:, :, 77] = 0  # one column nodata in every band
    data[4, 90, :] = 0  # one row nodata in a single band
    path = write_image(tmp_path / "stripe.tif", data, nodata=0)
    _, valid = stitched(Model(conv_onnx, device="cpu", scale=1.0), path,
                        TileSettings(tile=64, overlap=16, batch_size=0))
    expected = np.ones((150, 130), bool)
    expected[:, 77] = False
    expected[90, :] = False
    np.testing.assert_array_equal(valid, expected)


def test_cancellation_stops_between_tiles(tmp_path, conv_onnx):
    path = write_image(tmp_path / "c.tif", random_scene(300, 300))
    calls = {"n": 0}

    def canceled():
        calls["n"] += 1
        return calls["n"] > 3

    with rasterio.open(path) as src, pytest.raises(Cancelled):
        list(predict_rows(Model(conv_onnx, device="cpu", scale=1.0), src,
                          TileSettings(tile=64, overlap=8, batch_size=1), Reporter(is_canceled=canceled)))


def test_out_of_memory_halves_the_batch(tmp_path, conv_onnx):
    """A real onnxruntime allocation failure: the CPU arena is capped so that batches of more than
    two 64 × 64 tiles cannot be allocated; the run must finish with smaller batches and equal output."""
    import onnxruntime as ort

    data = random_scene(130, 300, seed=9)
    path = write_image(tmp_path / "oom.tif", data)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    reference, _ = stitched(model, path, TileSettings(tile=64, overlap=16, batch_size=8))

    mem = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    ort.create_and_register_allocator(mem, ort.OrtArenaCfg(1024 * 1024, -1, -1, -1))
    options = ort.SessionOptions()
    options.add_session_config_entry("session.use_env_allocators", "1")
    model.session = ort.InferenceSession(str(conv_onnx), options, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="BFCArena|allocate"):
        model.session.run(None, {"image": np.zeros((8, 10, 64, 64), np.float32)})

    lines = []
    with rasterio.open(path) as src:
        blocks = list(predict_rows(model, src, TileSettings(tile=64, overlap=16, batch_size=8),
                                   Reporter(info=lines.append)))
    np.testing.assert_allclose(np.concatenate([b.probability for b in blocks]), reference, atol=1e-6)
    assert lines and all("batch size lowered" in line for line in lines)


class PixelwiseModel:
    """The TileModel protocol without onnxruntime: the probability of a pixel is the logistic of
    its first normalized band, so any tiling must give exactly that."""

    provider = "numpy"

    def __init__(self, info):
        self.info = info

    def positive_probability(self, batch: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-batch[:, 0]))


def test_any_tile_model_runs(tmp_path, conv_onnx):
    data = random_scene(150, 97, seed=5)
    path = write_image(tmp_path / "scene.tif", data)
    model = PixelwiseModel(Model(conv_onnx, device="cpu", scale=1.0).info)
    prob, valid = stitched(model, path, TileSettings(tile=64, overlap=16, batch_size=3))
    first = (data[0].astype(np.float32) - model.info.mean[0]) / model.info.std[0]
    assert valid.all()
    np.testing.assert_allclose(prob, 1.0 / (1.0 + np.exp(-first)), rtol=1e-5)


class CountingTiles:
    """A real model that counts the tiles it is given."""

    def __init__(self, model: Model) -> None:
        self.model, self.info, self.provider, self.tiles = model, model.info, model.provider, 0

    def positive_probability(self, batch: np.ndarray) -> np.ndarray:
        self.tiles += len(batch)
        return self.model.positive_probability(batch)


def test_tiles_of_nodata_alone_are_not_run(tmp_path, conv_onnx):
    """A scene whose left half is nodata: the tiles wholly inside it never reach the model, and every
    valid pixel gets what whole-scene inference gives it."""
    data = random_scene(200, 300, seed=9)
    data[:, :, :150] = 0
    path = write_image(tmp_path / "half.tif", data, nodata=0)
    counting = CountingTiles(Model(conv_onnx, device="cpu", scale=1.0))
    prob, valid = stitched(counting, path, TileSettings(tile=64, overlap=16, batch_size=3))
    starts = len(range(0, 200 - 64, 48)) + 1, len(range(0, 300 - 64, 48)) + 1  # strips, columns
    assert counting.tiles < starts[0] * starts[1]
    assert not valid[:, :150].any() and valid[:, 150:].all()
    expected = whole_scene_probability(counting.model, data)
    np.testing.assert_allclose(prob[:, 152:], expected[:, 152:], atol=2e-5)  # beyond the 5x5 view of the edge


def mosaic(blocks, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The scene from predict_rows' blocks placed at their windows; every pixel exactly once."""
    prob = np.full((*blocks[0].probability.shape[:-2], height, width), np.nan, np.float32)
    valid = np.zeros(prob.shape, bool)
    placed = np.zeros((height, width), int)
    for block in blocks:
        rows, cols = block.window.toslices()
        prob[..., rows, cols], valid[..., rows, cols] = block.probability, block.valid
        placed[rows, cols] += 1
    assert (placed == 1).all()
    return prob, valid


def panel_runs(model, srcs, settings, cuts_of) -> list[tuple[np.ndarray, np.ndarray]]:
    """The scene as one panel (cuts []) and as the panels of each of ``cuts_of(plan)``."""
    plan = inference._Plan(srcs[0].height, srcs[0].width, inference.resolve_tiling(model.info, settings))
    height, width = srcs[0].height, srcs[0].width
    return [mosaic(list(predict_rows(model, srcs, settings, cuts=cuts)), height, width)
            for cuts in [[], *cuts_of(plan)]]


def some_cuts(plan) -> list[list[int]]:
    """Cuts on tile starts, off them, closer than a tile, and a panel holding no tile start."""
    xs, width = plan.xs, plan.width
    return [xs[1:-1:2], [xs[1] + 5, xs[2] + 1, width - 3], list(range(7, width, 23)), [xs[1] + 1, xs[1] + 2]]


def assert_same(runs) -> None:
    (prob, valid), *others = runs
    for other_prob, other_valid in others:
        np.testing.assert_array_equal(other_valid, valid)
        np.testing.assert_array_equal(other_prob[valid], prob[valid])  # bit for bit


@pytest.mark.parametrize("batch", [1, 3])
def test_panels_give_the_whole_width_output_bit_for_bit(tmp_path, conv_onnx, batch):
    data = random_scene(157, 333, seed=8)
    data[:, 60:62, 10:90] = 0  # nodata crossing tiles and panels
    data[:, :, 180:300] = 0  # whole tiles of nodata: not run
    path = write_image(tmp_path / "scene.tif", data, nodata=0)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    with rasterio.open(path) as src:
        runs = panel_runs(model, [src], TileSettings(tile=64, overlap=24, batch_size=batch), some_cuts)
    assert_same(runs)
    assert not runs[0][1][60:62, 10:90].any()


def test_panels_of_a_change_model(tmp_path):
    from tests.onnx_factory import change_model, metadata

    meta = metadata(name="test_change", task="change", classes=["no_change", "change"], patch_size=48)
    model = Model(change_model(tmp_path / "c.onnx", meta=meta), device="cpu", scale=1.0)
    paths = [write_image(tmp_path / f"{n}.tif", random_scene(130, 301, seed=n)) for n in (1, 2)]
    with rasterio.open(paths[0]) as before, rasterio.open(paths[1]) as after:
        assert_same(panel_runs(model, [before, after], TileSettings(overlap=16, batch_size=2), some_cuts))


def test_panels_of_a_series_model(tmp_path):
    from tests.onnx_factory import series_model

    model = Model(series_model(tmp_path / "s.onnx"), device="cpu", scale=1.0)
    data = [random_scene(97, 290, seed=n) for n in (3, 4, 5)]
    data[1][:, 10:30, 100:180] = 0  # nodata in one year only
    paths = [write_image(tmp_path / f"{n}.tif", d, nodata=0) for n, d in enumerate(data)]
    with rasterio.open(paths[0]) as a, rasterio.open(paths[1]) as b, rasterio.open(paths[2]) as c:
        runs = panel_runs(model, [a, b, c], TileSettings(tile=64, overlap=8, batch_size=2), some_cuts)
    assert_same(runs)
    assert runs[0][0].shape == (3, 97, 290)


def test_default_panels_follow_the_memory_budget(tmp_path, conv_onnx, monkeypatch):
    """At a small PANEL_BYTES the scene is cut on tile starts, the blocks name their columns, and
    the output is that of one panel; the row reader's buffer is a panel wide, not the scene."""
    data = random_scene(140, 700, seed=6)
    path = write_image(tmp_path / "scene.tif", data, tiled=True, blockxsize=32, blockysize=32)
    model = Model(conv_onnx, device="cpu", scale=1.0)
    settings = TileSettings(tile=64, overlap=16, batch_size=2)
    with rasterio.open(path) as src:
        whole = mosaic(list(predict_rows(model, src, settings)), 140, 700)
        monkeypatch.setattr(inference, "PANEL_BYTES", 1)  # panels of MIN_PANEL_COLUMNS
        layout = inference.tile_layout(model, 140, 700, settings, [src])
        widths = []
        real_span = inference.RowReader.span
        monkeypatch.setattr(inference.RowReader, "span",
                            lambda self, col0, width: widths.append(width) or real_span(self, col0, width))
        blocks = list(predict_rows(model, src, settings))
    plan = inference._Plan(140, 700, inference.resolve_tiling(model.info, settings))
    assert len(layout.panels) > 2 and set(layout.panels[1:-1]) <= set(plan.xs)
    assert sorted({b.col0 for b in blocks}) == list(layout.panels[:-1])
    assert max(widths) == layout.panel_width < 700
    assert_same([whole, mosaic(blocks, 140, 700)])
