"""One year's composite of one site: per pixel and band, the median of the year's clear observations,
computed in row blocks of the output grid so that memory stays bounded however large the site.

Clear: the scene's SCL (warped onto the grid with nearest neighbour, as the 20 m bands are) is not one
of the excluded classes and the band is not nodata. Each observation is first made reflectance × 10000
without the +1000 offset (core.archive.harmonisation); the median follows numpy (the mean of the two
middle values for an even count), is rounded half to even and clipped to 1–32767, so that dark pixels
neither become nodata (0) nor wrap around; a pixel without a clear observation is nodata."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from ..errors import OutputError, first_line
from ..io.outputs import atomic_outputs
from ..io.raster import RASTERIO_ERRORS, Grid
from ..progress import Reporter
from ..release import BANDS
from .bands import SCL, ItemBands, find_bands
from .errors import WRITE, ArchiveError
from .harmonisation import Convention, OffsetCheck, convention
from .reading import WarpedAsset, cloud_reads
from .search import Scene

NODATA = 0
VALID_MIN, VALID_MAX = 1, np.iinfo(np.int16).max
BLOCK_BUDGET_BYTES = 256 << 20  # the observations of one row block (all scenes, one band) and their masks
BLOCK_BYTES_PER_OBSERVATION = 6  # float32 value, clear mask, valid-in-every-band mask
TILE = 256
SCL_NODATA = 0  # the scene classification's "no data" class


@dataclass(frozen=True)
class SceneAssets:
    """A scene's assets on the output grid and each band's convention."""

    scene: Scene
    bands: ItemBands
    conventions: dict[str, Convention]

    @staticmethod
    def of(scene: Scene) -> SceneAssets:
        """The band assets (from the item's metadata) and conventions of ``scene``."""
        bands = find_bands(scene.id, scene.item.get("assets") or {})
        properties = scene.item.get("properties") or {}
        return SceneAssets(scene, bands, {name: convention(properties, info) for name, info in bands.bands.items()})

    def href(self, key: str) -> str:
        return str(self.scene.item["assets"][key]["href"])


@dataclass(frozen=True)
class YearComposite:
    """What a finished year holds: its scenes, the median clear count per pixel and the data checks' warnings."""

    scenes: int
    median_clear: float
    warnings: list[str]


def block_rows(scenes: int, grid: Grid) -> int:
    """Rows per block: as many as BLOCK_BUDGET_BYTES allows (a multiple of TILE where it allows one)."""
    rows = BLOCK_BUDGET_BYTES // max(1, scenes * grid.width * BLOCK_BYTES_PER_OBSERVATION)
    rows = rows // TILE * TILE if rows >= TILE else max(1, rows)
    return min(grid.height, rows)


def image_profile(grid: Grid) -> dict[str, Any]:
    """The composite's GeoTIFF: 10 int16 bands, tiled, DEFLATE, nodata 0."""
    return dict(driver="GTiff", dtype="int16", count=len(BANDS), nodata=NODATA, width=grid.width,
                height=grid.height, crs=grid.crs, transform=grid.transform, tiled=True, blockxsize=TILE,
                blockysize=TILE, compress="deflate", predictor=2, interleave="band")


def clear_profile(grid: Grid) -> dict[str, Any]:
    """The clear-observation count: one uint16 band on the same grid."""
    return {**image_profile(grid), "dtype": "uint16", "count": 1, "nodata": None}


def median_values(stack: NDArray[np.float32]) -> NDArray[np.int16]:
    """Per pixel, the median of the observations along axis 0 (NaN: none), rounded half to even and
    clipped to VALID_MIN–VALID_MAX; NODATA where there is none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: no clear observation
        median = np.nanmedian(stack, axis=0)
    return np.where(np.isnan(median), NODATA, np.clip(np.rint(median), VALID_MIN, VALID_MAX)).astype(np.int16)


def compose_year(scenes: Sequence[SceneAssets], grid: Grid, excluded_scl: frozenset[int], image: Path, clear: Path,
                 sign: Callable[[str], str], stac_url: str, reporter: Reporter) -> YearComposite:
    """Write the composite of ``scenes`` to ``image`` and its clear count to ``clear`` (atomically)."""
    n, rows_per_block = len(scenes), block_rows(len(scenes), grid)
    blocks = [Window(0, row, grid.width, min(rows_per_block, grid.height - row))
              for row in range(0, grid.height, rows_per_block)]
    checks = [OffsetCheck(s.scene.id, any(c.carries_offset for c in s.conventions.values()),
                          next(iter(s.conventions.values())).rule) for s in scenes]
    histogram = np.zeros(n + 1, dtype=np.int64)
    assets = [_warped(s, grid, sign, stac_url) for s in scenes]
    reads = _Reads(reporter, max(1, len(blocks) * n * (len(BANDS) + 1)))
    try:
        with cloud_reads(), atomic_outputs([image, clear]) as (image_temp, clear_temp), \
                rasterio.open(image_temp, "w", **image_profile(grid)) as out, \
                rasterio.open(clear_temp, "w", **clear_profile(grid)) as counts:
            for index, name in enumerate(BANDS, start=1):
                out.set_band_description(index, name)
            counts.set_band_description(1, "clear observations")
            for window in blocks:
                count = _compose_block(window, scenes, assets, excluded_scl, checks, out, reads)
                counts.write(count, 1, window=window)
                histogram += np.bincount(count.ravel(), minlength=n + 1)[: n + 1]
    except RASTERIO_ERRORS as exc:
        raise ArchiveError(stac_url, WRITE, f"{image} ({first_line(exc)})") from exc
    except OutputError as exc:
        raise ArchiveError(stac_url, WRITE, str(exc)) from exc
    finally:
        for scene_assets in assets:
            for asset in scene_assets.values():
                asset.close()
    return YearComposite(n, _median_of_histogram(histogram), [w for c in checks if (w := c.disagreement())])


@dataclass
class _Reads:
    """Progress over a year's reads (one per scene and asset and row block), and cancellation."""

    reporter: Reporter
    total: int
    done: int = 0

    def next(self) -> None:
        self.reporter.check()
        self.done += 1
        self.reporter.progress(100.0 * self.done / self.total)


def _compose_block(window: Window, scenes: Sequence[SceneAssets], assets: list[dict[str, WarpedAsset]],
                   excluded_scl: frozenset[int], checks: list[OffsetCheck], out: Any,
                   reads: _Reads) -> NDArray[np.uint16]:
    """Write the composite's rows of ``window`` into ``out``; the count of observations clear in every band."""
    shape = (len(scenes), int(window.height), int(window.width))
    clear_scl = np.zeros(shape, dtype=bool)
    for i in range(len(scenes)):
        reads.next()
        clear_scl[i] = ~np.isin(assets[i][SCL].read(window), list(excluded_scl))
    every_band = clear_scl.copy()
    stack = np.empty(shape, dtype=np.float32)
    for index, name in enumerate(BANDS, start=1):
        stack.fill(np.nan)
        for i, s in enumerate(scenes):
            reads.next()
            if not clear_scl[i].any():
                continue  # nothing clear here: the band's pixels are not fetched
            dn = assets[i][name].read(window)
            valid = dn != s.conventions[name].nodata
            every_band[i] &= valid
            use = clear_scl[i] & valid
            stack[i][use] = s.conventions[name].reflectance(dn[use])
            checks[i].add(dn[use])
        out.write(median_values(stack), index, window=window)
    count: NDArray[np.uint16] = every_band.sum(axis=0, dtype=np.uint16)
    return count


def _warped(scene: SceneAssets, grid: Grid, sign: Callable[[str], str], stac_url: str) -> dict[str, WarpedAsset]:
    """The scene's band and SCL assets on ``grid``, by output band name (and "SCL")."""
    def href(key: str) -> Callable[[], str]:
        return lambda: sign(scene.href(key))

    warped = {name: WarpedAsset(href(info.key), grid, scene.conventions[name].nodata, stac_url)
              for name, info in scene.bands.bands.items()}
    warped[SCL] = WarpedAsset(href(scene.bands.scl.key), grid, float(SCL_NODATA), stac_url)
    return warped


def _median_of_histogram(histogram: NDArray[np.int64]) -> float:
    """The median pixel count from a histogram of counts (numpy's median of the pixels)."""
    total = int(histogram.sum())
    if total == 0:
        return 0.0
    cumulative = np.cumsum(histogram)
    low = int(np.searchsorted(cumulative, (total - 1) // 2 + 1))
    high = int(np.searchsorted(cumulative, total // 2 + 1))
    return (low + high) / 2.0
