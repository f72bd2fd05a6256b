"""Scoring annual prediction rasters against reference rasters in one streaming pass.

All selected years are read together, a band of rows at a time, so consecutive-year
transitions and year pairs are counted in the same pass; memory is bounded by
window rows × width × years, never by the scene height.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, YearsError
from ..io.area import AreaTally
from ..io.grids import align_hint, common_grid, grid_mismatch, same_grid
from ..io.masks import MaskInfo, inspect_mask, read_stack, row_windows, window_rows
from ..io.raster import Grid, decimation
from ..progress import Reporter
from ..years import match_years
from .metrics import Counts, SeriesCounts, series_counts

PREVIEW_SIDE = 400  # longest side of the per-year map panels

# Codes of the preview panels.
TN, FP, FN, TP, NODATA = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class RasterEvaluation:
    """The outcome of evaluating predictions against references over the selected years."""

    counts: SeriesCounts
    predictions: dict[int, Path]
    references: dict[int, Path]
    shape: tuple[int, int]
    area_unit: str  # "ha" when the prediction grid has a CRS, else "pixels"
    mapped_area: dict[int, float]
    reference_area: dict[int, float]
    previews: dict[int, NDArray[np.uint8]]  # per year, codes TN/FP/FN/TP/NODATA, at most PREVIEW_SIDE a side

    @property
    def years(self) -> list[int]:
        return self.counts.years

    def summary(self, lam: float) -> dict[str, Any]:
        """Every figure (see SeriesCounts.summary) plus areas per year and the input files."""
        out = self.counts.summary(lam)
        for year in self.years:
            out["per_year"][str(year)].update(mapped_area=self.mapped_area[year],
                                              reference_area=self.reference_area[year])
        out["area_unit"] = self.area_unit
        out["predictions"] = {str(y): str(p) for y, p in self.predictions.items()}
        out["references"] = {str(y): str(p) for y, p in self.references.items()}
        return out


def match_inputs(predictions: Sequence[str | Path], references: Sequence[str | Path],
                 years: Sequence[int] | None) -> tuple[dict[int, Path], dict[int, Path]]:
    """Pair prediction and reference files by the year in their names.

    With ``years`` given, each must have both; without, the years present in both are kept.
    """
    pred = dict(match_years(predictions, years))
    ref = dict(match_years(references, years))
    common = sorted(set(pred) & set(ref))
    if not common:
        raise YearsError(
            f"no year has both a prediction ({', '.join(map(str, sorted(pred)))}) and a reference "
            f"({', '.join(map(str, sorted(ref)))})"
        )
    return {y: pred[y] for y in common}, {y: ref[y] for y in common}


def check_grids(pred: dict[int, MaskInfo], ref: dict[int, MaskInfo]) -> Grid:
    """The common grid of all predictions; references must match it (size only when without CRS)."""
    years = sorted(pred)
    grid = common_grid([pred[y] for y in years], "predictions of different years lie on different grids",
                       "every year must share one grid")
    for year in years:
        p, r = pred[year], ref[year]
        if r.grid.shape != p.grid.shape:
            raise InputError(
                f"{r.path} ({r.grid.width} × {r.grid.height} px) does not match the grid of "
                f"{p.path} ({p.grid.width} × {p.grid.height} px) for year {year}; "
                + align_hint(r.path, r.grid, p.path, p.grid)
            )
        if r.grid.crs is not None and p.grid.crs is not None and not same_grid(r.grid, p.grid):
            raise grid_mismatch(r, p, f"reference and prediction for year {year} have the same size but a "
                                      "different CRS or transform")
    return grid


def evaluate_rasters(
    predictions: dict[int, Path],
    references: dict[int, Path],
    pairs: Sequence[tuple[int, int]] = (),
    reporter: Reporter = Reporter(),
) -> RasterEvaluation:
    """Count every metric of docs/metrics.md for year-matched prediction and reference rasters.

    One pass over row windows holding all years at once. References without a CRS (EuroMineNet
    labels) are accepted when their size equals the prediction's. Inputs are only read.
    """
    years = sorted(predictions)
    if sorted(references) != years:
        raise YearsError(f"predictions ({years}) and references ({sorted(references)}) cover different years")
    pred_info = {y: inspect_mask(Path(predictions[y])) for y in years}
    ref_info = {y: inspect_mask(Path(references[y])) for y in years}
    grid = check_grids(pred_info, ref_info)
    height, width = grid.shape
    rows = window_rows(grid, max(i.block_rows for i in (*pred_info.values(), *ref_info.values())))
    area = AreaTally(grid, "ha" if grid.crs is not None else "pixels")
    step, preview_height, preview_width = decimation(height, width, PREVIEW_SIDE)
    previews = {y: np.empty((preview_height, preview_width), np.uint8) for y in years}
    total = SeriesCounts({y: Counts() for y in years})
    reporter.info(f"Evaluating {len(years)} year(s) on a {width} × {height} grid in windows of {rows} rows")

    for window in row_windows(grid, rows, reporter):
        row0 = window.row_off
        pred, pred_valid = read_stack([pred_info[y] for y in years], window)
        ref, ref_valid = read_stack([ref_info[y] for y in years], window)
        valid = pred_valid & ref_valid
        total += series_counts(pred, ref, valid, years, pairs)
        area.add("mapped", row0, pred & valid)
        area.add("reference", row0, ref & valid)
        first = -row0 % step  # first row of this window on the preview's row lattice
        for t, year in enumerate(years):
            sample = np.s_[first::step, ::step]
            codes = np.where(valid[t][sample], 2 * ref[t][sample] + pred[t][sample], NODATA)
            previews[year][(row0 + first) // step:(row0 + first) // step + codes.shape[0]] = codes

    return RasterEvaluation(
        counts=total,
        predictions={y: pred_info[y].path for y in years},
        references={y: ref_info[y].path for y in years},
        shape=(height, width),
        area_unit=area.unit,
        mapped_area={y: float(a) for y, a in zip(years, np.asarray(area["mapped"]), strict=True)},
        reference_area={y: float(a) for y, a in zip(years, np.asarray(area["reference"]), strict=True)},
        previews=previews,
    )

