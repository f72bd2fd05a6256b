from itertools import pairwise

import numpy as np
import pytest

from euromine_qgis.core.engine.tiling import blend_weights, tile_starts


@pytest.mark.parametrize("length", [1, 37, 64, 65, 100, 159, 160, 161, 500, 1001])
@pytest.mark.parametrize("tile, overlap", [(64, 0), (64, 16), (160, 32), (160, 100)])
def test_tiles_cover_scene_with_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts == sorted(set(starts))
    if length <= tile:
        assert starts == [0]
        return
    assert starts[-1] == length - tile
    for a, b in pairwise(starts):
        assert tile - (b - a) >= overlap  # neighbours share at least `overlap` pixels


def test_tile_starts_rejects_bad_overlap():
    with pytest.raises(ValueError):
        tile_starts(100, 64, 64)


@pytest.mark.parametrize("tile, overlap", [(64, 8), (64, 16), (160, 32), (160, 33), (20, 19)])
def test_blend_weights_give_every_pixel_positive_weight(tile, overlap):
    length = 3 * tile + 7
    total = np.zeros(length)
    starts = tile_starts(length, tile, overlap)
    for s in starts:
        total[s:s + tile] += blend_weights(tile, overlap, taper_start=s > 0, taper_end=s + tile < length)
    assert total.min() > 0
    w = blend_weights(tile, overlap, True, True)
    assert np.all(w[: overlap // 4] == 0) and np.all(w[tile - overlap // 4:] == 0)
    assert np.allclose(w, w[::-1])
    if overlap <= tile // 2:
        assert w.max() == 1.0


def test_blend_weights_untapered_at_scene_border():
    w = blend_weights(64, 16, taper_start=False, taper_end=True)
    assert w[0] == 1.0 and w[-1] == 0.0
    assert np.all(blend_weights(64, 0, True, True) == 1.0)


@pytest.mark.parametrize("length", [64, 96, 1024, 2016])
@pytest.mark.parametrize("tile, overlap, alignment", [(64, 20, 16), (160, 33, 32), (672, 435, 32)])
def test_aligned_tiles_start_on_the_grid_and_end_flush(length, tile, overlap, alignment):
    starts = tile_starts(length, tile, overlap, alignment)
    assert all(s % alignment == 0 for s in starts)
    if length > tile:
        assert starts[-1] == length - tile
        assert all(tile - (b - a) >= overlap for a, b in pairwise(starts))


def test_aligned_tiles_need_an_aligned_scene():
    with pytest.raises(ValueError, match="alignment 32"):
        tile_starts(1000, 160, 32, 32)


@pytest.mark.parametrize("tile, overlap, dead", [(64, 11, 5), (672, 435, 217), (160, 32, 40)])
def test_dead_edges_get_no_weight_and_every_pixel_some(tile, overlap, dead):
    """With the receptive field as the dead margin, no pixel takes weight from a tile that sees it
    closer than that to a cut edge (capped so that neighbours still cover every pixel)."""
    length = 3 * tile
    starts = tile_starts(length, tile, overlap)
    total = np.zeros(length)
    kept = min(dead, (overlap - 1) // 2)
    for s in starts:
        w = blend_weights(tile, overlap, taper_start=s > 0, taper_end=s + tile < length, dead=dead)
        if s > 0:
            assert np.all(w[:kept] == 0) and w[kept] > 0
        if s + tile < length:
            assert np.all(w[tile - kept:] == 0)
        total[s:s + tile] += w
    assert total.min() > 0
