"""The measured receptive field and alignment, and tiling that follows them: tiled output equals
whole-scene inference (the scene reflect-padded to the model's alignment) everywhere."""
import json

import numpy as np
import pytest
import rasterio

from euromine_qgis.core.engine.bundled import MODELS_DIR, bundled_models
from euromine_qgis.core.engine.contract import RECEPTIVE_FIELD_TOLERANCE, TOLERANT_FIELD_TOLERANCE, ModelInfo
from euromine_qgis.core.engine.inference import (
    MAX_TOLERANT_TILE,
    TILE_PER_OVERLAP,
    TOLERANT_TILE_PER_OVERLAP,
    TileSettings,
    predict_scene,
    resolve_tiling,
    tile_layout,
)
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.receptive_field import DATE_NOISE, measure, scenes
from euromine_qgis.core.engine.tiling import align_up, tile_starts
from euromine_qgis.core.io.valid import valid_pixels
from export.synthetic import generate_site
from tests.onnx_factory import conv_model, metadata, pooled_model
from tests.rasters import random_scene, write_image

# The promise of the docs and the help: tiled output equals whole-scene inference to this.
pytestmark = pytest.mark.slow  # measures whole models
EXACT = 1e-5
# The share of a scene's pixels the default tiling may leave beyond TOLERANT_FIELD_TOLERANCE of
# whole-scene inference on a site it was not measured on (utae_series: 0.0018 % in 416-px tiles here).
TOLERANT_OUTLIERS = 1e-4


def whole_scene(model: Model, paths) -> np.ndarray:
    """The model run once on the whole scene, reflect-padded at its bottom and right to the model's
    alignment and cropped back, pixels that are not valid fed as the band mean: (maps, H, W), NaN
    where not valid."""
    raws = []
    for path in paths:
        with rasterio.open(path) as src:
            raws.append((src.read(), valid_pixels(src.read(), src.nodata)))
    _, h, w = raws[0][0].shape
    a = model.info.alignment
    pad = ((0, 0), (0, align_up(h, a) - h), (0, align_up(w, a) - w))
    x = model.normalize(np.concatenate([np.pad(r, pad, mode="reflect") for r, _ in raws])[None])
    # a series model's year is valid where its image is; the images of other models where all are
    oks = [ok for _, ok in raws]
    valid = np.stack(oks) if model.info.series else np.logical_and.reduce(oks)[None]
    bands = len(model.info.bands)
    for j in range(len(raws)):
        x[0, j * bands:(j + 1) * bands][:, ~np.pad(valid[j % len(valid)], pad[1:], mode="reflect")] = 0.0
    p = model.positive_probability(x)[0]
    p = (p if p.ndim == 3 else p[None])[:, :h, :w]
    return np.where(valid, p, np.nan)


def tiled(model: Model, paths, settings: TileSettings) -> np.ndarray:
    """predict_rows' (maps, H, W) probabilities, NaN where not valid."""
    srcs = [rasterio.open(p) for p in paths]
    probability, valid = predict_scene(model, srcs, settings)
    p = np.where(valid, probability, np.nan)
    return p if p.ndim == 3 else p[None]


def test_two_convolutions_see_two_pixels(tmp_path):
    field = measure(Model(conv_model(tmp_path / "conv.onnx"), device="cpu", scale=1.0))
    assert (field.radius, field.alignment) == (2, 1)


def test_pooling_sets_the_alignment_and_widens_the_field(tmp_path):
    # pooled_model's pixels reach 5 px (4 on one side, 5 on the other, alternating with parity)
    field = measure(Model(pooled_model(tmp_path / "pooled.onnx"), device="cpu", scale=1.0))
    assert (field.radius, field.alignment) == (5, 2)


def test_global_context_has_no_bounded_field(tmp_path):
    field = measure(Model(pooled_model(tmp_path / "global.onnx", global_context=True), device="cpu", scale=1.0))
    assert not field.bounded and field.radius is None


@pytest.mark.parametrize("shape", [(203, 171), (64, 64), (17, 90)])
def test_declared_field_makes_tiles_exact(tmp_path, shape):
    declared = Model(pooled_model(tmp_path / "m.onnx", meta=metadata(receptive_field=5, alignment=2)), device="cpu",
                     scale=1.0)
    path = write_image(tmp_path / "scene.tif", random_scene(*shape, seed=7))
    expected = whole_scene(declared, [path])
    for tile in (16, 24, 40):
        got = tiled(declared, [path], TileSettings(tile=tile, batch_size=3))
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=f"tile {tile}")


def test_undeclared_field_differs_from_whole_scene(tmp_path):
    """The same model without its field in the metadata, tiled as before the field was recorded
    (tiles flush with the scene end, a quarter of a 11-px overlap dropped): tiles do not reproduce
    the whole scene."""
    undeclared = Model(pooled_model(tmp_path / "u.onnx"), device="cpu", scale=1.0)
    declared = Model(pooled_model(tmp_path / "d.onnx", meta=metadata(receptive_field=5, alignment=2)), device="cpu",
                     scale=1.0)
    path = write_image(tmp_path / "scene.tif", random_scene(204, 172, seed=7))
    error = np.abs(tiled(undeclared, [path], TileSettings(tile=24, overlap=11, batch_size=0))
                   - whole_scene(declared, [path]))
    assert error.max() > 1e-3


def test_tiling_follows_the_field():
    info = ModelInfo.from_json(json.dumps(metadata(receptive_field=202, alignment=32, patch_size=160)), "m.onnx")
    t = resolve_tiling(info, TileSettings(batch_size=0))
    assert (t.overlap, t.alignment, t.exact) == (405, 32, True) and t.tile % 32 == 0 and t.tile >= 4 * 405
    assert t.tolerance == RECEPTIVE_FIELD_TOLERANCE  # no tolerant field recorded: the exact one
    assert not resolve_tiling(info, TileSettings(overlap=32, batch_size=0)).exact
    legacy_info = ModelInfo.from_json(json.dumps(metadata(patch_size=160)), "m.onnx")
    legacy = resolve_tiling(legacy_info, TileSettings(batch_size=0))
    assert (legacy.tile, legacy.overlap, legacy.receptive_field) == (160, 32, None)


def test_default_tiling_follows_the_tolerant_field_and_exact_the_exact_one():
    info = ModelInfo.from_json(json.dumps(metadata(receptive_field=217, tolerant_receptive_field=96, alignment=32,
                                                   patch_size=160)), "m.onnx")
    lean = resolve_tiling(info, TileSettings(batch_size=0))
    assert (lean.overlap, lean.receptive_field, lean.tolerance, lean.exact) == (193, 96, TOLERANT_FIELD_TOLERANCE, True)
    assert lean.tile == min(align_up(TOLERANT_TILE_PER_OVERLAP * 193, 32), MAX_TOLERANT_TILE)
    assert f"within {TOLERANT_FIELD_TOLERANCE:g} of whole-scene inference" in lean.description
    exact = resolve_tiling(info, TileSettings(exact=True, batch_size=0))
    assert (exact.overlap, exact.receptive_field, exact.tolerance) == (435, 217, RECEPTIVE_FIELD_TOLERANCE)
    assert exact.tile == align_up(TILE_PER_OVERLAP * 435, 32)  # the tiling of earlier releases, bit for bit
    given = resolve_tiling(info, TileSettings(overlap=64, batch_size=0))
    assert (given.overlap, given.exact) == (64, False)


def test_default_tiling_runs_the_fewest_tiles_its_side_allows():
    """Tile strides are rounded down to the alignment: the default tiling's side still covers the
    scene with the fewest tiles of at most its tile (2400 x 20 000 at unet_footprint's field: 2 x 17
    tiles, not the 2 x 18 that the evenly spread side needed), and never more than that tile."""
    model = Model(next(m.file for m in bundled_models() if m.name == "unet_footprint"), device="cpu", scale=1.0)
    tiling = resolve_tiling(model.info, TileSettings(batch_size=0))
    stride = (tiling.tile - tiling.overlap) // tiling.alignment * tiling.alignment
    for length in range(tiling.tile + 1, 25_000, 367):
        layout = tile_layout(model, 64, length, TileSettings(batch_size=0))
        padded = align_up(length, tiling.alignment)
        assert layout.columns == -(-(padded - tiling.tile) // stride) + 1, length
        assert layout.tile_width <= tiling.tile and layout.tile_width % tiling.alignment == 0
        assert len(tile_starts(padded, layout.tile_width, tiling.overlap, tiling.alignment)) == layout.columns
    wide = tile_layout(model, 2400, 20_000, TileSettings(batch_size=0))
    assert (wide.strips, wide.columns) == (2, 17)


@pytest.fixture(scope="module")
def site_1000(tmp_path_factory):
    site = generate_site(tmp_path_factory.mktemp("rf"), "Scene", seed=5, size=(1000, 1000), years=(2019, 2020))
    return sorted((site / "image").glob("Year*.tif"))


@pytest.mark.parametrize("entry", bundled_models(), ids=lambda m: m.name)
def test_bundled_models_tile_within_their_tolerances_on_1000_px(site_1000, entry):
    """Every bundled model records both fields. TILE_OVERLAP=exact gives whole-scene inference to
    1e-5 in probability on a 1000² site, with tiles smaller than the scene (and with the default
    tile, which may cover the whole scene). The default tiling's tolerance was measured on other
    sites: here at most TOLERANT_OUTLIERS of the pixels may differ by more than it, and as many
    change class at THRESHOLD 0.5."""
    model = Model(entry.file, device="cpu", scale=1.0)
    assert model.info.receptive_field is not None and model.info.alignment >= 1
    assert model.info.tolerant_receptive_field is not None
    assert model.info.tolerant_receptive_field <= model.info.receptive_field
    paths = site_1000[:model.info.images_per_sample or 2]
    expected = whole_scene(model, paths)
    for exact in (True, False):
        overlap = resolve_tiling(model.info, TileSettings(exact=exact, batch_size=0)).overlap
        tile = align_up(max(overlap * 3 // 2, 400), model.info.alignment)
        for settings in (TileSettings(tile=tile, exact=exact, batch_size=0), TileSettings(exact=exact, batch_size=0)):
            got = tiled(model, paths, settings)
            assert got.shape == expected.shape
            if exact:
                np.testing.assert_allclose(got, expected, atol=EXACT, rtol=0, err_msg=f"{settings}")
                continue
            valid = ~np.isnan(expected)
            beyond = np.mean(np.abs(got - expected)[valid] > TOLERANT_FIELD_TOLERANCE)
            changed = np.mean(((got > 0.5) != (expected > 0.5))[valid])
            assert beyond <= TOLERANT_OUTLIERS and changed <= TOLERANT_OUTLIERS, (settings, beyond, changed)


def test_change_and_series_scenes_show_one_landscape_over_the_dates():
    """Besides independent random dates (which look like change everywhere and saturate a change
    model), a model of several images is measured on dates of one landscape with some blocks changed."""
    xs = scenes(20, 256, images=2)
    assert len(xs) == 6 and all(x.shape == (1, 20, 256, 256) for x in xs)
    unchanged = [np.mean(np.abs(x[0, :10] - x[0, 10:]).max(axis=0) < 6 * DATE_NOISE) for x in xs]
    assert max(unchanged[:3]) < 0.05  # independent dates
    assert all(0.6 < u < 0.9 for u in unchanged[3:])  # about 1 - CHANGED_BLOCKS of the landscape unchanged
    assert len(scenes(10, 256)) == 3


def test_measurement_adds_generated_sites_normalized_as_the_engine_does():
    from export.field_scenes import site_scenes

    info = Model(MODELS_DIR / "fc_siam_diff_change.onnx", device="cpu", scale=1.0).info
    (x,) = site_scenes(info)(64, 2)
    assert x.shape == (1, 20, 64, 64) and x.dtype == np.float32 and np.isfinite(x).all()
    assert np.abs(np.median(x)) < 2  # z-scores with the model's mean and std, not raw reflectance
