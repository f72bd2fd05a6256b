"""`make bench`: how far tiled output is from whole-scene inference, for every bundled model, with
the tiling that follows its receptive field (the default) and with the older one (160-px tiles,
32 px of overlap, a quarter of it dropped, the last tile flush with the scene end)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from euromine_qgis.core.engine.bundled import bundled_models
from euromine_qgis.core.engine.contract import METADATA_KEY
from euromine_qgis.core.engine.inference import TileSettings, resolve_tiling, tile_layout
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.engine.tiling import align_up
from export.synthetic import generate_site
from tests.plain_run import AUTO_TILES
from tests.unit.test_receptive_field import tiled, whole_scene

SIDE = 1000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = generate_site(tmp_path_factory.mktemp("tiling"), "Scene", seed=5, size=(SIDE, SIDE), years=(2019, 2020))
    return sorted((folder / "image").glob("Year*.tif"))


def without_field(path, out) -> Model:
    """The model with its receptive field and alignment removed from its metadata: the older tiling."""
    proto = onnx.load(str(path))
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            meta = json.loads(prop.value)
            meta.pop("receptive_field"), meta.pop("alignment")
            prop.value = json.dumps(meta)
    onnx.save(proto, str(out))
    return Model(out, device="cpu", scale=1.0)


def test_tiled_against_whole_scene(site, tmp_path):
    rows = []
    for entry in bundled_models():
        model = Model(entry.file, device="cpu", scale=1.0)
        paths = site[:model.info.images_per_sample or 2]
        expected = whole_scene(model, paths)
        older = without_field(entry.file, tmp_path / entry.file.name)
        overlap = resolve_tiling(model.info, TileSettings(batch_size=0)).overlap
        smaller = TileSettings(tile=align_up(max(overlap * 3 // 2, 400), model.info.alignment), batch_size=0)
        for label, m, settings in (("default tiling", model, TileSettings(batch_size=0)),
                                   (f"{smaller.tile}-px tiles", model, smaller),
                                   ("older tiling", older, TileSettings(batch_size=0))):
            error = np.abs(tiled(m, paths, settings) - expected)
            error = error[~np.isnan(error)]
            rows.append(f"{entry.name:22s} {label:15s} max |p - whole scene| {error.max():.1e}, "
                        f"pixels off by more than 1e-5: {np.mean(error > 1e-5):6.2%}")
    print(f"\n== tiled against whole-scene inference, a generated {SIDE} x {SIDE} site, CPU")
    for row in rows:
        print("   " + row)


def test_model_runs_per_output_pixel():
    """How many times the default tiling runs each model per output pixel, by scene side."""
    print("\n== model runs per output pixel with the default tiling (tile side in brackets)")
    for entry in bundled_models():
        model = Model(entry.file, device="cpu", scale=1.0)
        cells = []
        for side in (1000, 2000, 20000):
            layout = tile_layout(model, side, side, settings=AUTO_TILES)
            runs = layout.tiles * layout.tile_height * layout.tile_width / side ** 2
            cells.append(f"{side}²: {runs:.2f} ({layout.tile_height} px)")
        print(f"   {entry.name:22s} " + ", ".join(cells))
