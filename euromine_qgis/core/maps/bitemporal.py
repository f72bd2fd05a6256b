"""Change between two dates as one raster: 0 no change, 1 new mining (gain), 2 mining ended
(loss), 255 nodata, on the input grid, with the gained, lost and net area.

Three ways to get it: a bitemporal change model (its binary change split into gain and loss by
the footprint model's probabilities of the two dates), post-classification (a footprint model
on both dates), or footprint rasters that already exist.
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.io import DatasetReader
from rasterio.windows import Window

from ..engine.inference import (
    RowBlock,
    TileSettings,
    decoded_once,
    engine_env,
    predict_rows,
    resolve_tiling,
    tile_layout,
)
from ..engine.scaling import ImageInput, check_inputs
from ..errors import InputError
from ..io.area import AreaTally
from ..io.bands import BandedImage
from ..io.grids import common_grid
from ..io.masks import block_windows, inspect_mask, read_stack, window_rows
from ..io.outputs import atomic_outputs, check_not_inputs, check_output_folder
from ..io.raster import FOOTPRINT_NODATA, Grid, footprint_profile, open_raster
from ..progress import Reporter
from .change_layers import GAIN, LOSS, NO_CHANGE, ChangeArea, add_change_areas, change_area, change_codes
from .footprints import check_images, check_threshold

if TYPE_CHECKING:
    from ..engine.model import Model

METHODS = ("change_model", "post_classification", "footprints")


@dataclass(frozen=True)
class ChangeDetection(ChangeArea):
    """A written change raster, how it was made (one of METHODS) and the areas it measures."""

    change: Path
    method: str


def _check_target(target: Path, inputs: Sequence[Path]) -> None:
    check_output_folder(target.parent)
    check_not_inputs([target], inputs, "choose another name for CHANGE")


def _aligned(streams: Sequence[Iterator[RowBlock]]) -> Iterator[tuple[Window, list[NDArray[np.float32]],
                                                                       NDArray[np.bool_]]]:
    """Pixels that every stream of RowBlocks has finished, as (window, probabilities, valid in all).

    The streams cut the scene into the same panels (predict_rows' ``cuts``) and walk each top to
    bottom, but models with different tile sizes finish rows in different blocks; this re-cuts
    them to the rows of the panel all streams have delivered so far.
    """
    held: list[RowBlock | None] = [None] * len(streams)
    while True:
        for i, stream in enumerate(streams):
            block = held[i]
            if block is None or block.probability.shape[0] == 0:
                new = next(stream, None)
                if new is None:  # the streams end together, at the last panel's bottom
                    return
                held[i] = new
        blocks = [b for b in held if b is not None]  # every stream has delivered rows by now
        first = blocks[0]
        if any((b.row0, b.col0, b.probability.shape[1]) != (first.row0, first.col0, first.probability.shape[1])
               for b in blocks):
            raise ValueError("streams combined pixel by pixel must share their panels")
        k = min(b.probability.shape[0] for b in blocks)
        valid: NDArray[np.bool_] = np.logical_and.reduce([b.valid[:k] for b in blocks])
        yield Window(first.col0, first.row0, first.probability.shape[1], k), [b.probability[:k] for b in blocks], valid
        held = [RowBlock(b.row0 + k, b.col0, b.probability[k:], b.valid[k:]) for b in blocks]


def _cuts(model: Model, srcs: Sequence[DatasetReader], indexes: Sequence[Sequence[int]], grid: Grid,
          settings: TileSettings) -> list[int]:
    """Where the footprint model cuts the scene into panels over the widest-reading of ``srcs``:
    every stream of a run is cut there, so that their blocks combine pixel by pixel (_aligned)."""
    layouts = [tile_layout(model, grid.height, grid.width, settings, [src], [ix]) for src, ix in zip(srcs, indexes,
                                                                                                     strict=True)]
    return list(min(layouts, key=lambda layout: layout.panel_width).panels[1:-1])


def _with_change_model(stack: ExitStack, opened: Callable[[Path], DatasetReader], images: tuple[Path, Path],
                       models: tuple[Model, Model], infos: tuple[list[BandedImage], list[BandedImage]], grid: Grid,
                       settings: TileSettings, reporter: Reporter) -> list[Generator[RowBlock, None, None]]:
    """The footprint model's streams over the two images and the change model's over both, cut
    into the same panels, each image decoded once for the two models (both tilings) where the
    scene is one panel and the models read the same bands; otherwise every stream reads on its own."""
    footprint_model, change_model = models
    indexes = [i.indexes for i in infos[0]]
    srcs = [opened(path) for path in images]
    cuts = _cuts(footprint_model, srcs, indexes, grid, settings)
    views = None
    if indexes == [i.indexes for i in infos[1]]:
        rows = max(tile_layout(m, grid.height, grid.width, settings).tile_height for m in models)
        views = stack.enter_context(decoded_once(srcs, rows, indexes, consumers=2, panels=len(cuts) + 1))
    if views is None:
        return [predict_rows(footprint_model, opened(images[0]), settings, reporter.silent(), [indexes[0]], cuts=cuts),
                predict_rows(footprint_model, opened(images[1]), settings, reporter.silent(), [indexes[1]], cuts=cuts),
                predict_rows(change_model, srcs, settings, reporter, [i.indexes for i in infos[1]], cuts=cuts)]
    # the views are used by one thread each: streams read on their own background threads
    return [predict_rows(footprint_model, srcs[0], settings, reporter.silent(), [indexes[0]], [views[0][0]], cuts),
            predict_rows(footprint_model, srcs[1], settings, reporter.silent(), [indexes[1]], [views[1][0]], cuts),
            predict_rows(change_model, srcs, settings, reporter, indexes, [views[0][1], views[1][1]], cuts)]


def detect_change(
    before: Path,
    after: Path,
    target: Path,
    footprint_model: Model,
    change_model: Model | None = None,
    *,
    threshold: float,
    settings: TileSettings,
    reporter: Reporter = Reporter(),
    image_input: ImageInput,
) -> ChangeDetection:
    """Map change between the ``before`` and ``after`` images into ``target``.

    With ``change_model`` its change probability decides where change happened and the footprint
    model's probabilities of the two dates decide whether it is gain (after ≥ before) or loss;
    without it, the footprint model maps both dates and change is where the thresholded maps differ.
    ``image_input`` says which bands feed both models (io.bands) and the SCALE they were loaded with.
    """
    check_threshold(threshold)
    pair = [(0, Path(before)), (1, Path(after))]
    infos = check_images(pair, footprint_model, image_input.bands)
    if change_model is not None:
        if change_model.info.task != "change":
            raise InputError(f"{change_model.path}: a change model is needed here, "
                             f"this one's task is '{change_model.info.task}'")
        change_infos = check_images(pair, change_model, image_input.bands)
    grid = common_grid(infos, "the two images are not on the same grid", resampling="bilinear")
    _check_target(target, [p for _, p in pair])
    method = "change_model" if change_model is not None else "post_classification"
    reporter.info(f"Footprint model: {footprint_model.description}; "
                  f"{resolve_tiling(footprint_model.info, settings).description}")
    if change_model is not None:
        reporter.info(f"Change model: {change_model.description}; "
                      f"{resolve_tiling(change_model.info, settings).description}")
    check_inputs(infos, footprint_model.info, image_input.scale, reporter)
    tally = AreaTally(grid)
    with atomic_outputs([target]) as (temp,), ExitStack() as stack:
        stack.enter_context(engine_env())

        def opened(path: Path) -> DatasetReader:  # one handle per stream: each stream reads from its own thread
            return stack.enter_context(open_raster(path))

        # the last stream reports progress for all (they advance together)
        if change_model is None:
            pair_srcs = [opened(before), opened(after)]
            cuts = _cuts(footprint_model, pair_srcs, [i.indexes for i in infos], grid, settings)
            streams = [predict_rows(footprint_model, src, settings, report, [info.indexes], cuts=cuts)
                       for src, info, report in zip(pair_srcs, infos, (reporter.silent(), reporter), strict=True)]
        else:
            streams = _with_change_model(stack, opened, (before, after), (footprint_model, change_model),
                                         (infos, change_infos), grid, settings, reporter)
        for stream in streams:  # closed before the datasets: their reader threads stop first
            stack.enter_context(closing(stream))
        dst = stack.enter_context(rasterio.open(temp, "w", **footprint_profile(grid)))
        for window, probs, valid in _aligned(streams):
            reporter.check()
            if change_model is None:
                codes = change_codes(probs[0] >= threshold, valid, probs[1] >= threshold, valid)
            else:
                changed = probs[2] >= threshold
                codes = np.where(changed, np.where(probs[1] >= probs[0], GAIN, LOSS), NO_CHANGE).astype(np.uint8)
                codes[~valid] = FOOTPRINT_NODATA
            dst.write(codes, 1, window=window)
            add_change_areas(tally, "change", window, codes)
    area = change_area(tally, "change")
    return ChangeDetection(area.gain_ha, area.loss_ha, target, method)


def change_from_footprints(before: Path, after: Path, target: Path, reporter: Reporter = Reporter()) -> ChangeDetection:
    """Change between two footprint rasters already made (any mask rasters on one grid)."""
    infos = [inspect_mask(Path(before)), inspect_mask(Path(after))]
    grid = common_grid(infos, "footprints of different years lie on different grids", "every year must share one grid")
    if grid.crs is None:
        raise InputError(f"{before}: footprint has no CRS, so the changed area cannot be measured")
    _check_target(target, [Path(before), Path(after)])
    tally = AreaTally(grid)
    rows = window_rows(grid, max(i.block_rows for i in infos))
    with atomic_outputs([target]) as (temp,), rasterio.open(temp, "w", **footprint_profile(grid)) as dst:
        for window in block_windows(grid, rows, reporter):
            mined, valid = read_stack(infos, window)
            codes = change_codes(mined[0], valid[0], mined[1], valid[1])
            dst.write(codes, 1, window=window)
            add_change_areas(tally, "change", window, codes)
    area = change_area(tally, "change")
    return ChangeDetection(area.gain_ha, area.loss_ha, target, "footprints")
