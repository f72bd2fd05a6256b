"""Reading the windows a composite needs from Cloud-Optimized GeoTIFFs over HTTP: GDAL's settings for
cloud reads (scoped with rasterio.Env), each asset warped onto the output grid with nearest-neighbour
resampling (WarpedVRT, so GDAL fetches only the COG tiles under the window asked for), retried with
backoff when a read fails, and the bytes of the tiles a window needs (for dry runs)."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from ..errors import first_line
from ..io.raster import RASTERIO_ERRORS, STRICT_READS, Grid
from .errors import READ, ArchiveError
from .http import refusal_hint

# GDAL's HTTP settings for COG reads; a value already set in the environment wins (a slow network
# may want a longer GDAL_HTTP_TIMEOUT). GDAL itself retries 429 and 5xx answers GDAL_HTTP_MAX_RETRY
# times, GDAL_HTTP_RETRY_DELAY seconds apart (doubling).
GDAL_HTTP = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing per opened file
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
}
# Reads GDAL gave up on (a time-out, a dropped connection) are tried again this many times, after
# READ_BACKOFF_S, doubling, with the file opened afresh.
READ_ATTEMPTS = 3
READ_BACKOFF_S = 1.0


def gdal_settings() -> dict[str, str]:
    """GDAL_HTTP with the environment's own values where it sets them, and the project's strict reads."""
    return {**{key: os.environ.get(key, value) for key, value in GDAL_HTTP.items()}, **STRICT_READS}


@contextmanager
def cloud_reads() -> Iterator[None]:
    """GDAL configured for COG reads over HTTP while the block runs."""
    with rasterio.Env(**gdal_settings()):
        yield


def gdal_path(href: str) -> str:
    """The path GDAL opens for an asset's href: ``/vsicurl/`` for HTTP(S), the href itself otherwise."""
    return f"/vsicurl/{href}" if href.startswith(("http://", "https://")) else href


class WarpedAsset:
    """One asset opened (on first read) and warped onto the output grid with nearest-neighbour
    resampling; reads are retried with backoff, reopening the file, before an ArchiveError."""

    def __init__(self, href: Callable[[], str], grid: Grid, nodata: float, stac_url: str) -> None:
        self._href, self._grid, self._nodata, self._stac_url = href, grid, nodata, stac_url
        self._stack: ExitStack | None = None
        self._vrt: WarpedVRT | None = None

    def _open(self) -> WarpedVRT:
        if self._vrt is None:
            stack = ExitStack()
            try:
                src = stack.enter_context(rasterio.open(gdal_path(self._href())))
                self._vrt = stack.enter_context(WarpedVRT(
                    src, crs=self._grid.crs, transform=self._grid.transform, width=self._grid.width,
                    height=self._grid.height, resampling=Resampling.nearest,
                    src_nodata=src.nodata if src.nodata is not None else self._nodata, nodata=self._nodata))
            except BaseException:
                stack.close()
                raise
            self._stack = stack
        return self._vrt

    def read(self, window: Window) -> NDArray[Any]:
        """The asset's values in ``window`` of the output grid (nodata outside the scene)."""
        delay = READ_BACKOFF_S
        for attempt in range(READ_ATTEMPTS):
            try:
                data: NDArray[Any] = self._open().read(1, window=window)
                return data
            except RASTERIO_ERRORS as exc:
                self.close()
                if attempt == READ_ATTEMPTS - 1:
                    href = self._href()
                    raise ArchiveError(self._stac_url, READ, f"{href.split('?')[0]} ({first_line(exc)}; tried "
                                       f"{READ_ATTEMPTS} times){refusal_hint(href)}") from exc
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # the loop returns or raises

    def close(self) -> None:
        """Close the file (the next read opens it again)."""
        if self._stack is not None:
            self._stack.close()
        self._stack, self._vrt = None, None


def window_bytes(href: str, grid: Grid, window: Window, stac_url: str) -> int:
    """The compressed bytes of the asset's tiles that ``window`` of ``grid`` covers, from the COG's
    header (its tile byte counts); no pixel is read."""
    try:
        with rasterio.open(gdal_path(href)) as src:
            bounds = rasterio.windows.bounds(window, grid.transform)
            west, south, east, north = transform_bounds(grid.crs, src.crs, *bounds, densify_pts=21)
            needed = from_bounds(west, south, east, north, src.transform).intersection(
                Window(0, 0, src.width, src.height))
            block_height, block_width = src.block_shapes[0]
            rows = range(int(needed.row_off // block_height),
                         int(math.ceil((needed.row_off + needed.height) / block_height)))
            cols = range(int(needed.col_off // block_width),
                         int(math.ceil((needed.col_off + needed.width) / block_width)))
            return sum(int(src.block_size(1, r, c)) for r in rows for c in cols)
    except rasterio.errors.WindowError:
        return 0  # the scene does not reach the window
    except RASTERIO_ERRORS as exc:
        raise ArchiveError(stac_url, READ, f"{href.split('?')[0]} ({first_line(exc)}){refusal_hint(href)}") from exc

