"""Change layers from annual footprints: first/last year mined, years active, flicker, change
rasters for year pairs and mined/gained/lost area, in one streaming pass over row windows.

A pixel that is nodata in some years is summarised over its valid years only: FIRST_YEAR,
LAST_YEAR and YEARS_ACTIVE ignore the nodata years, TRANSITIONS counts switches between
consecutive valid observations; a pixel nodata in every year is nodata in all of them. A
CHANGE pixel is nodata when either year of its pair is nodata, and areas count only pixels
valid in the years they compare. With a temporal filter (``maps.temporal_filter``) every layer and area
is derived from the filtered masks. With a minimum mapping unit (``maps.min_area``) the masks are
first filtered and sieved year by year into a hidden work folder, and everything is derived from those.
The TRAJECTORY raster and the site's trajectory figures are those of ``maps.trajectory``.
"""
from __future__ import annotations

import tempfile
from collections.abc import Hashable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from ..errors import InputError, YearsError
from ..io.area import AreaTally
from ..io.folder_lock import folder_lock
from ..io.grids import common_grid
from ..io.masks import block_windows, inspect_mask, read_stack, window_rows
from ..io.outputs import atomic_outputs, check_not_inputs, check_output_folder, write_csv
from ..io.raster import single_band_profile
from ..progress import Reporter
from .min_area import check_min_area, write_sieved_masks
from .temporal_filter import filter_masks, filter_width
from .trajectory import CLASS_FACTOR, FLICKER, TRAJECTORY_NODATA, SiteTrajectory, site_trajectory, trajectory_codes

UINT8_NODATA = 255
YEAR_NODATA = 65535
NO_CHANGE, GAIN, LOSS = 0, 1, 2
SUMMARY_NAMES = ("first_year", "last_year", "years_active", "transitions")
TABLE_COLUMNS = ("year", "mined_ha", "gain_ha", "loss_ha")


@dataclass(frozen=True)
class ChangeArea:
    """Mining gained and lost between two years, in hectares, over pixels valid in both."""

    gain_ha: float
    loss_ha: float

    @property
    def net_ha(self) -> float:
        return self.gain_ha - self.loss_ha


@dataclass(frozen=True)
class ChangeLayersResult:
    """The change layers written and the areas they measure."""

    years: list[int]
    first_year: Path
    last_year: Path
    years_active: Path
    transitions: Path
    change: dict[tuple[int, int], Path]  # per requested pair
    area_ha: dict[int, float]  # mined hectares per year
    steps: dict[tuple[int, int], ChangeArea]  # each selected year with the next
    pairs: dict[tuple[int, int], ChangeArea]  # per requested pair
    table: Path
    trajectory: Path  # the TRAJECTORY raster
    site: SiteTrajectory  # the site's trajectory figures
    masks: dict[int, Path] = field(default_factory=dict)  # the masks every layer derives from, when asked


def change_name(a: int, b: int) -> str:
    """File name of the change raster from year ``a`` to year ``b``."""
    return f"change_{a}_{b}.tif"


def summarise_window(mined: NDArray[np.bool_], valid: NDArray[np.bool_],
                     years: Sequence[int]) -> dict[str, NDArray[np.uint8] | NDArray[np.uint16]]:
    """FIRST_YEAR, LAST_YEAR (uint16), YEARS_ACTIVE and TRANSITIONS (uint8) of a (years, rows, cols)
    stack; ``mined`` must be False wherever ``valid`` is."""
    seen = valid.any(axis=0)
    ever = mined.any(axis=0)
    year_values = np.asarray(years, np.uint16)
    first = np.where(ever, year_values[np.argmax(mined, axis=0)], 0)
    last = np.where(ever, year_values[len(years) - 1 - np.argmax(mined[::-1], axis=0)], 0)
    transitions = np.zeros(seen.shape, np.uint8)
    previous = mined[0].copy()
    has_previous = valid[0].copy()
    for t in range(1, len(years)):
        transitions += has_previous & valid[t] & (mined[t] != previous)
        previous = np.where(valid[t], mined[t], previous)
        has_previous |= valid[t]
    return {
        "first_year": np.where(seen, first, YEAR_NODATA).astype(np.uint16),
        "last_year": np.where(seen, last, YEAR_NODATA).astype(np.uint16),
        "years_active": np.where(seen, mined.sum(axis=0), UINT8_NODATA).astype(np.uint8),
        "transitions": np.where(seen, transitions, UINT8_NODATA).astype(np.uint8),
    }


def change_codes(mined_a: NDArray[np.bool_], valid_a: NDArray[np.bool_], mined_b: NDArray[np.bool_],
                 valid_b: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """CHANGE codes from year a to b: 0 no change, 1 gain, 2 loss, 255 where either year is nodata."""
    codes = np.where(mined_b & ~mined_a, GAIN, np.where(mined_a & ~mined_b, LOSS, NO_CHANGE))
    changes: NDArray[np.uint8] = np.where(valid_a & valid_b, codes, UINT8_NODATA).astype(np.uint8)
    return changes


def add_change_areas(tally: AreaTally, key: Hashable, window: Window, codes: NDArray[np.uint8]) -> None:
    """Add the gained and lost area of a block of CHANGE codes at ``window`` of the grid to
    ``tally`` under ``key`` (read them back with change_area)."""
    tally.add((key, GAIN), window.row_off, codes == GAIN, window.col_off)
    tally.add((key, LOSS), window.row_off, codes == LOSS, window.col_off)


def change_area(tally: AreaTally, key: Hashable) -> ChangeArea:
    """The gain and loss summed by add_change_areas under ``key``."""
    return ChangeArea(float(tally[key, GAIN]), float(tally[key, LOSS]))


def change_layers(
    footprints: Sequence[tuple[int, Path]],
    pairs: Sequence[tuple[int, int]],
    out_dir: Path,
    reporter: Reporter = Reporter(),
    table: Path | None = None,
    *,
    temporal_filter: str,
    masks_dir: Path | None = None,
    min_area_ha: float,
    trajectory: Path | None = None,
) -> ChangeLayersResult:
    """Write the change layers of annual ``footprints`` (year, path) into ``out_dir``.

    ``first_year.tif``, ``last_year.tif``, ``years_active.tif``, ``transitions.tif``, one
    ``change_A_B.tif`` per pair of ``pairs`` and the area table CSV (``table``, default
    ``out_dir/area_table.csv``, with a ``.csvt`` type sidecar). Every footprint must lie on one
    grid with a CRS; the outputs keep it exactly. Inputs are read in one pass of row windows
    holding all years; outputs appear under their names only when complete. ``temporal_filter``
    (one of ``maps.temporal_filter.TEMPORAL_FILTERS``) is applied to the masks before anything is derived.
    With ``masks_dir``, those masks (filtered, 0/1 with nodata 255) are also written there as
    ``footprint_YYYY.tif``, so that polygons can be drawn from exactly what the areas measure.
    ``min_area_ha`` > 0 removes patches and holes smaller than that from the masks (after the
    filter). The TRAJECTORY raster goes to ``trajectory`` (default ``out_dir/trajectory.tif``).
    """
    check_min_area(min_area_ha)
    footprints = sorted((int(y), Path(p)) for y, p in footprints)
    pairs = list(dict.fromkeys((int(a), int(b)) for a, b in pairs))
    years = [y for y, _ in footprints]
    if not footprints:
        raise YearsError("no footprint rasters were given")
    if len(set(years)) != len(years):
        raise YearsError(f"a year appears twice among the footprints ({', '.join(map(str, years))})")
    if len(years) >= UINT8_NODATA:
        raise YearsError(f"{len(years)} years do not fit the uint8 YEARS_ACTIVE raster (at most 254)")
    filter_years = filter_width(temporal_filter)
    index = {y: t for t, y in enumerate(years)}
    for a, b in pairs:
        if a not in index or b not in index:
            raise YearsError(f"pair {a}-{b}: both years must be among the footprints ({', '.join(map(str, years))})")
    infos = [inspect_mask(path) for _, path in footprints]
    grid = common_grid(infos, "footprints of different years lie on different grids", "every year must share one grid")
    if grid.crs is None:
        raise InputError(f"{infos[0].path}: footprint has no CRS, so its pixel areas are unknown; assign its CRS first")
    check_output_folder(out_dir)
    table = Path(table) if table is not None else out_dir / "area_table.csv"
    check_output_folder(table.parent)

    height, width = grid.shape
    rows = window_rows(grid, max(i.block_rows for i in infos))
    tally = AreaTally(grid)
    steps = list(pairwise(years))
    compared = {*steps, *pairs}
    summary_paths = {name: out_dir / f"{name}.tif" for name in SUMMARY_NAMES}
    change_paths = {(a, b): out_dir / change_name(a, b) for a, b in pairs}
    trajectory = Path(trajectory) if trajectory is not None else out_dir / "trajectory.tif"
    check_output_folder(trajectory.parent)
    mask_paths = {}
    if masks_dir is not None:
        check_output_folder(masks_dir)
        mask_paths = {y: Path(masks_dir) / f"footprint_{y}.tif" for y in years}
    rasters = [*summary_paths.values(), *change_paths.values(), *mask_paths.values(), trajectory]
    check_not_inputs([*rasters, table, table.with_suffix(".csvt")], [path for _, path in footprints],
                     "choose another OUTPUT_FOLDER, AREA_TABLE or TRAJECTORY")
    if min_area_ha > 0:
        with tempfile.TemporaryDirectory(prefix=".min-area-", dir=out_dir) as work:
            sieved = write_sieved_masks(infos, years, grid, filter_years, min_area_ha, Path(work),
                                        reporter.sub_range(0.0, 50.0))
            # the sieved masks are filtered and sieved already
            return change_layers(sieved, pairs, out_dir, reporter.sub_range(50.0, 100.0), table,
                                 temporal_filter="none", masks_dir=masks_dir, min_area_ha=0.0,
                                 trajectory=trajectory)
    reporter.info(f"Change layers of {len(years)} year(s), {len(pairs)} pair(s), on a {width} × {height} grid "
                  f"in windows of {rows} rows")

    with folder_lock(out_dir, "changelayers", reporter), \
            atomic_outputs([*rasters, table, table.with_suffix(".csvt")]) as temps, ExitStack() as stack:
        year_profile = single_band_profile(grid, "uint16", YEAR_NODATA)
        byte_profile = single_band_profile(grid, "uint8", UINT8_NODATA)
        dst = {}
        trajectory_profile = single_band_profile(grid, "uint16", TRAJECTORY_NODATA)
        keys = [*SUMMARY_NAMES, *change_paths, *mask_paths, "trajectory"]  # one per raster; the table's temps follow
        for key, temp in zip(keys, temps[:len(rasters)], strict=True):
            profile = year_profile if key in ("first_year", "last_year") else byte_profile
            profile = trajectory_profile if key == "trajectory" else profile
            dst[key] = stack.enter_context(rasterio.open(temp, "w", **profile))
        for window in block_windows(grid, rows, reporter):
            mined, valid = read_stack(infos, window)
            if filter_years > 1:
                mined = filter_masks(mined, valid, filter_years)
            summaries = summarise_window(mined, valid, years)
            for name, data in summaries.items():
                dst[name].write(data, 1, window=window)
            history = trajectory_codes(mined, valid, years, summaries["transitions"])
            dst["trajectory"].write(history, 1, window=window)
            tally.add("mined", window.row_off, mined, window.col_off)
            tally.add("valid", window.row_off, valid, window.col_off)
            tally.add("ever", window.row_off, mined.any(axis=0), window.col_off)
            tally.add("flicker", window.row_off, history == FLICKER * CLASS_FACTOR, window.col_off)
            for year in mask_paths:
                t = index[year]
                dst[year].write(np.where(valid[t], mined[t], UINT8_NODATA).astype(np.uint8), 1, window=window)
            for a, b in compared:
                codes = change_codes(mined[index[a]], valid[index[a]], mined[index[b]], valid[index[b]])
                add_change_areas(tally, (a, b), window, codes)
                if (a, b) in dst:
                    dst[(a, b)].write(codes, 1, window=window)
        areas = {pair: change_area(tally, pair) for pair in compared}
        area_ha = {y: float(v) for y, v in zip(years, np.asarray(tally["mined"]), strict=True)}
        write_area_table(temps[-2], temps[-1], area_ha, {s: areas[s] for s in steps})

    return ChangeLayersResult(
        years=years,
        change=change_paths,
        area_ha=area_ha,
        steps={s: areas[s] for s in steps},
        pairs={p: areas[p] for p in change_paths},
        table=table,
        masks=mask_paths,
        trajectory=trajectory,
        site=site_trajectory(area_ha, dict(zip(years, np.asarray(tally["valid"]).tolist(), strict=True)),
                             float(tally["flicker"]), float(tally["ever"])),
        **summary_paths,
    )


def write_area_table(path: Path, types_path: Path, area_ha: dict[int, float],
                     steps: dict[tuple[int, int], ChangeArea]) -> None:
    """CSV of mined hectares per year and gain/loss from the previous year (empty for the first
    year), and the ``.csvt`` column types GDAL/QGIS read beside it."""
    gained = {b: area for (_a, b), area in steps.items()}

    def row(year: int, ha: float) -> list[object]:
        step = gained.get(year)
        return [year, f"{ha:.6f}", *(("", "") if step is None else (f"{step.gain_ha:.6f}", f"{step.loss_ha:.6f}"))]

    write_csv(path, TABLE_COLUMNS, [row(year, ha) for year, ha in area_ha.items()])
    types_path.write_text('"Integer","Real","Real","Real"\n', encoding="utf-8")
