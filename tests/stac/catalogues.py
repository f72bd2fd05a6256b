"""The catalogues the tests serve: the generated scenes of each collection shape, written once under
build/test-cache/stac/KEY (KEY: a digest of tests/stac/scenes.py and the catalogue's settings; a lock
lets parallel test processes share them), and the two APIs that serve them: Earth Search
(``sentinel-2-c1-l2a`` and ``sentinel-2-l2a``) and Planetary Computer (``sentinel-2-l2a``, signed)."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.build_cache import files_digest, kept_file, locked
from tests.stac.scenes import COLLECTION_IDS, SCENE_GRID, Grid, ShapeCatalogue, load, save, write_shape
from tests.stac.server import Catalogue

YEARS = (2020, 2021, 2022, 2023)  # the tests' years: before, at and after the baseline change


@dataclass(frozen=True)
class Scenes:
    """Generated shapes kept under ``root`` (the folder served as ``/data/``)."""

    root: Path
    shapes: dict[str, ShapeCatalogue]  # by shape name (with "-contradiction" for the variant)


def generated(shapes: tuple[str, ...], years: tuple[int, ...] = YEARS, grid: Grid = SCENE_GRID,
              contradiction: bool = False, overviews: bool = False) -> Scenes:
    """The scenes of ``shapes`` over ``years``, written once under build/test-cache/stac/."""
    settings = json.dumps([shapes, years, grid.x0, grid.y0, grid.side, grid.block, contradiction, overviews])
    key = files_digest("tests/stac/scenes.py", extra=settings)[:16]
    root = kept_file("stac", key)
    done = root / "done.json"
    with locked(root.with_name(key + ".lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            for shape in shapes:
                made = write_shape(root, shape, years, grid, contradiction=contradiction, overviews=overviews)
                save(made, root / f"{shape}.json")
            done.write_text(settings)
    return Scenes(root, {s + ("-contradiction" if contradiction else ""): load(root / f"{s}.json") for s in shapes})


def earth_search(*catalogues: ShapeCatalogue, root: Path) -> Catalogue:
    """An Earth Search-like API serving ``catalogues`` (each its own collection id)."""
    ids = [COLLECTION_IDS[c.shape] for c in catalogues]
    assert len(set(ids)) == len(ids), f"one API serves each collection id once: {ids}"
    return Catalogue({i: c.collection for i, c in zip(ids, catalogues, strict=True)},
                     {i: c.items for i, c in zip(ids, catalogues, strict=True)}, root)


def planetary(catalogue: ShapeCatalogue, root: Path) -> Catalogue:
    """A Planetary Computer-like API: ``sentinel-2-l2a`` whose assets need the SAS token."""
    cid = COLLECTION_IDS[catalogue.shape]
    return Catalogue({cid: catalogue.collection}, {cid: catalogue.items}, root, signed=frozenset({cid}))
