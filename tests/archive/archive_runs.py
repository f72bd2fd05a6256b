"""What the archive tests share: a loopback API of one collection shape, the `euromine composites`
command run in a process of its own, and the checks of its outputs against the numpy reference."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from tests.stac.catalogues import earth_search, planetary
from tests.stac.reference import expected_year, share_within, window_of
from tests.stac.scenes import BANDS, COLLECTION_IDS, CRS, SITE_UTM, ShapeCatalogue, site_lonlat
from tests.stac.server import SAS_PREFIX, StacServer

REPO = Path(__file__).resolve().parents[2]
SITE = "Pit"
# GDAL's time-out for one HTTP request in the command's runs (its reading honours the environment's
# value): short, so that the hanging asset of the fault test costs seconds, ample on loopback.
GDAL_HTTP_TIMEOUT_S = 4
MATCH = 0.995  # the share of pixels within 1 DN of the reference


def bbox_text(box: tuple[float, float, float, float] | None = None) -> str:
    return ",".join(repr(v) for v in (box or site_lonlat()))


@dataclass
class Api:
    """A loopback API serving one collection shape: the server, the shape's catalogue and the
    command's flags that point at it."""

    server: StacServer
    shape: ShapeCatalogue
    data_root: Path

    @property
    def collection(self) -> str:
        return COLLECTION_IDS[self.shape.shape]

    def flags(self, sign: bool = True) -> list[str]:
        """The command's flags for this API; ``sign=False`` leaves the SAS token endpoint out."""
        flags = ["--stac-url", self.server.url, "--collection", self.collection]
        if sign and self.server.catalogue.signed:
            flags += ["--sas-token-url", self.server.url + SAS_PREFIX.rstrip("/")]
        return flags

    def parameters(self) -> dict[str, str]:
        """The same as Processing parameters."""
        parameters = {"STAC_URL": self.server.url, "COLLECTION": self.collection}
        if self.server.catalogue.signed:
            parameters["SAS_TOKEN_URL"] = self.server.url + SAS_PREFIX.rstrip("/")
        return parameters


def serve(shape: ShapeCatalogue, data_root: Path) -> Api:
    if shape.shape == "planetary":
        return Api(StacServer(planetary(shape, data_root)), shape, data_root)
    return Api(StacServer(earth_search(shape, root=data_root)), shape, data_root)


def command_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), GDAL_HTTP_TIMEOUT=str(GDAL_HTTP_TIMEOUT_S))


def composites(api: Api, out: Path, years: str, *extra: str, site: str = SITE, sign: bool = True,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """``euromine composites`` over the site's box from ``api`` into ``out`` (``--json``), run to the end."""
    argv = [sys.executable, "-m", "euromine_qgis.cli", "composites", *api.flags(sign), "--bbox", bbox_text(),
            "--site-name", site, "--years", years, "--output-folder", str(out), *extra, "--json"]
    return subprocess.run(argv, env=command_env(), capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          check=False)


def year_range(years: tuple[int, ...]) -> str:
    return f"{min(years)}-{max(years)}"


def check_year(image: Path, api: Api, year: int, months: tuple[int, int] = (4, 10), max_cloud: float = 80.0,
               shape: ShapeCatalogue | None = None,
               covers: tuple[float, float, float, float] = SITE_UTM) -> float:
    """Check one output year against the reference: the image's form (10 int16 bands B2…B12, nodata 0,
    the site's UTM zone at 10 m, bounds multiples of 10 covering the UTM rectangle ``covers``), its
    values within 1 DN on at least MATCH of its pixels, and its clear-observation raster. Returns the
    share that matched."""
    want = expected_year(shape or api.shape, api.data_root, year, months, max_cloud)
    with rasterio.open(image) as src:
        assert src.count == len(BANDS) and set(src.dtypes) == {"int16"} and src.nodata == 0, image
        assert list(src.descriptions) == [b.name for b in BANDS], src.descriptions
        assert src.crs == rasterio.crs.CRS.from_user_input(CRS), src.crs
        assert src.res == (10.0, 10.0)
        left, bottom, right, top = src.bounds
        assert all(v % 10 == 0 for v in (left, bottom, right, top)), src.bounds
        assert left <= covers[0] and bottom <= covers[1] and right >= covers[2] and top >= covers[3], \
            f"{src.bounds} does not cover the site {covers}"
        got = src.read()
        rows, cols = window_of(want, src.transform, src.height, src.width)
    expected = want.image[:, rows, cols]
    share = share_within(got, expected)
    worst = [share_within(got[b], expected[b]) for b in range(len(BANDS))]
    assert share >= MATCH, (f"{image}: {share:.4%} of the values within 1 DN of the reference (per band "
                            f"{[round(w, 4) for w in worst]}); items used: {want.items}")
    valid = got != 0
    assert (got[valid] >= 1).all(), "valid values are clipped to at least 1"
    assert np.mean(valid == (expected != 0)) >= MATCH, "nodata (no clear observation) where the reference has none"
    clear = image.parent.parent / "clear" / image.name
    with rasterio.open(clear) as src:
        assert set(src.dtypes) == {"uint16"}, src.dtypes
        counts = src.read()
        with rasterio.open(image) as composite:
            assert src.transform == composite.transform and (src.height, src.width) == got.shape[1:]
    # per band, or one band: observations clear by SCL alone, or clear by SCL and valid in every band
    references = [want.clear[:, rows, cols]] if counts.shape[0] == len(BANDS) else \
        [want.scl_clear[None, rows, cols], want.every_band_clear[None, rows, cols]]
    agree = [share_within(counts, r, 0) for r in references]
    assert max(agree) >= MATCH, f"{clear}: clear counts agree with the reference on only {agree} of the pixels"
    return share


def site_years(out: Path, site: str = SITE) -> list[str]:
    return sorted(p.name for p in (out / site / "image").glob("*"))


def leftovers(out: Path) -> list[str]:
    """Files under ``out`` that are neither outputs nor the manifest (temporary or partial files)."""
    allowed = {"image", "clear"}
    extra = []
    for path in out.rglob("*"):
        if path.is_dir():
            continue
        rel = path.relative_to(out)
        if rel.name == "composites.json" or (len(rel.parts) == 3 and rel.parts[1] in allowed
                                             and rel.name.startswith("Year") and rel.suffix == ".tif"):
            continue
        extra.append(str(rel))
    return extra


