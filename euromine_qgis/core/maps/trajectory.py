"""Mining trajectories: what each pixel did over the years (the TRAJECTORY raster) and what a
site did (first detected year, peak, expansion rate, flicker share), from annual footprints.

TRAJECTORY raster, uint16, one value per pixel = class × 10000 + year (year 0 where the class
has none), nodata 65535. A pixel's valid years only are read (nodata years skipped, so
1, nodata, 1 is stable mining); its switches are changes between consecutive valid observations
(the TRANSITIONS layer):

====== ========================== =========================================================
value  class                      rule
====== ========================== =========================================================
10000  stable non-mining          never mined in any valid year
20000  stable mining              mined in every valid year
3YYYY  sustained gain in YYYY     exactly one switch, not mined → mined; YYYY = first mined year
4YYYY  sustained loss in YYYY     exactly one switch, mined → not mined; YYYY = first unmined year
50000  flicker                    more than one switch
65535  nodata                     no valid year
====== ========================== =========================================================

``value // 10000`` is the class and ``value % 10000`` the year, so the raster styles by class
with value ranges (styles/trajectory.qml) and filters by year with the raster calculator.

Site figures (``site_trajectory``) are taken from the mined area per year over the years that
hold at least one valid pixel: the first year with mining, the peak year and its area, the
expansion rate as the least-squares slope of mined hectares on year with its standard error
(closed form of ordinary least squares; undefined with fewer than 2 years, its error with fewer
than 3), and the flicker share: the area of flicker pixels over the area ever mined.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

TRAJECTORY_NODATA = 65535
CLASS_FACTOR = 10000
STABLE_NON_MINING, STABLE_MINING, GAIN, LOSS, FLICKER = 1, 2, 3, 4, 5
CLASS_NAMES = {STABLE_NON_MINING: "stable non-mining", STABLE_MINING: "stable mining", GAIN: "sustained gain",
               LOSS: "sustained loss", FLICKER: "flicker"}


def trajectory_codes(mined: NDArray[np.bool_], valid: NDArray[np.bool_], years: Sequence[int],
                     switches: NDArray[np.integer[Any]]) -> NDArray[np.uint16]:
    """TRAJECTORY values (uint16, see the module table) of a (years, rows, cols) stack; ``mined``
    must be False where ``valid`` is, ``switches`` holds each pixel's switches between consecutive
    valid observations (change_layers' TRANSITIONS; any value where no year is valid)."""
    seen = valid.any(axis=0)
    ever = mined.any(axis=0)
    year_values = np.asarray(years, np.int64)
    first_mined = year_values[np.argmax(mined, axis=0)]
    first_unmined = year_values[np.argmax(valid & ~mined, axis=0)]
    starts_mined = np.take_along_axis(mined, np.argmax(valid, axis=0)[None], 0)[0]
    counts = switches.astype(np.int64)
    codes = np.select(
        [~seen, counts > 1, (counts == 1) & ~starts_mined, (counts == 1) & starts_mined, ever],
        [TRAJECTORY_NODATA, FLICKER * CLASS_FACTOR, GAIN * CLASS_FACTOR + first_mined,
         LOSS * CLASS_FACTOR + first_unmined, STABLE_MINING * CLASS_FACTOR],
        STABLE_NON_MINING * CLASS_FACTOR,
    )
    trajectory: NDArray[np.uint16] = codes.astype(np.uint16)
    return trajectory


@dataclass(frozen=True)
class SiteTrajectory:
    """A site's mining history in figures (None where undefined; see the module docstring)."""

    years: list[int]  # the years with valid pixels the figures use
    first_year: int | None  # first year with mining
    peak_year: int | None
    peak_ha: float | None
    rate_ha_per_year: float | None  # least-squares slope of the mined area
    rate_se_ha_per_year: float | None  # its standard error
    flicker_share: float | None  # flicker area / area ever mined

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        return asdict(self)


def linear_trend(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    """Ordinary least-squares slope of ``y`` on ``x`` and its standard error
    sqrt(Σr² / (n − 2) / Σ(x − x̄)²); None where undefined (fewer than 2 or 3 points)."""
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(xs) < 2:
        return None, None
    dx = xs - xs.mean()
    sxx = float(dx @ dx)
    slope = float(dx @ (ys - ys.mean())) / sxx
    if len(xs) < 3:
        return slope, None
    residuals = ys - ys.mean() - slope * dx
    return slope, math.sqrt(float(residuals @ residuals) / (len(xs) - 2) / sxx)


def site_trajectory(area_ha: Mapping[int, float], valid_ha: Mapping[int, float], flicker_ha: float,
                    ever_mined_ha: float) -> SiteTrajectory:
    """A site's figures from its mined hectares per year, its valid hectares per year (years
    with none are left out), and the flicker and ever-mined areas."""
    years = sorted(y for y in area_ha if valid_ha.get(y, 0.0) > 0.0)
    areas = [area_ha[y] for y in years]
    mined_years = [y for y, a in zip(years, areas, strict=True) if a > 0.0]
    peak = int(np.argmax(areas)) if mined_years else None
    slope, error = linear_trend(years, areas)
    return SiteTrajectory(
        years=years,
        first_year=mined_years[0] if mined_years else None,
        peak_year=years[peak] if peak is not None else None,
        peak_ha=areas[peak] if peak is not None else None,
        rate_ha_per_year=slope,
        rate_se_ha_per_year=error,
        flicker_share=flicker_ha / ever_mined_ha if ever_mined_ha > 0.0 else None,
    )
