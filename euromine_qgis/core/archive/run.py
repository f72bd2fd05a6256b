"""A composites run: for each site and year, search the year's scenes, reuse the year when its items
and parameters are those of the manifest, else make its composite and clear count; or, as a dry run,
list each year's scenes and the bytes their windows need, reading no pixel."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pystac_client import Client
from rasterio.windows import Window

from ..io.folder_lock import folder_lock
from ..io.layout import IMAGE_FOLDER, image_path
from ..io.outputs import check_output_folder, remove_partials
from ..io.raster import Grid
from ..progress import Reporter
from .composite import SceneAssets, compose_year
from .grid import site_crs, site_grid
from .manifest import read_manifest, reusable, write_manifest, year_record
from .reading import cloud_reads, window_bytes
from .search import Scene, open_catalog, search_year
from .signing import Signer
from .sites import Site

CLEAR_FOLDER = "clear"
MIN_CLEAR_OBSERVATIONS = 3  # a year whose median pixel has fewer clear observations is warned about


@dataclass(frozen=True)
class CompositeOptions:
    """What shapes the composites (each a parameter of euromine:composites)."""

    stac_url: str
    collection: str
    years: list[int]
    months: list[int]
    max_cloud: float
    crs: str  # "" : the UTM zone of each site's centre
    resolution: float
    excluded_scl: frozenset[int]
    sas_token_url: str

    def year_parameters(self, crs: str, grid: Grid) -> dict[str, Any]:
        """The parameters a year's files depend on, as the manifest records them (not the STAC API's address:
        the items' ids and update times say whether the same data is served, from a mirror say)."""
        return {"collection": self.collection, "months": self.months,
                "max_cloud": self.max_cloud, "crs": crs, "resolution": self.resolution,
                "excluded_scl": sorted(self.excluded_scl), "bounds": list(grid_bounds(grid)),
                "shape": [grid.height, grid.width]}


def grid_bounds(grid: Grid) -> tuple[float, float, float, float]:
    """left, bottom, right, top of ``grid``."""
    t = grid.transform
    return t.c, t.f + t.e * grid.height, t.c + t.a * grid.width, t.f


def clear_path(site: Path, year: int) -> Path:
    """Where a site folder keeps the clear-observation count of ``year``."""
    return site / CLEAR_FOLDER / image_path(site, year).name


@dataclass
class YearOutcome:
    """One site's year: made, reused or without scenes; the scenes used and the median clear count."""

    year: int
    status: str  # "made", "reused", "no scenes"
    scenes: list[dict[str, Any]]
    median_clear: float | None = None
    image: Path | None = None
    clear: Path | None = None
    bytes_needed: int | None = None  # dry runs: the bytes of the COG tiles the windows cover


@dataclass
class SiteComposites:
    """One site's composites: its folder, CRS, grid size and years."""

    name: str
    folder: Path
    crs: str
    width: int
    height: int
    years: list[YearOutcome] = field(default_factory=list)


class Catalog:
    """The STAC API, opened on first use."""

    def __init__(self, options: CompositeOptions) -> None:
        self.options = options
        self._client: Client | None = None

    def scenes(self, site: Site, year: int) -> list[Scene]:
        """The year's scenes over ``site`` (season, cloud cover)."""
        if self._client is None:
            self._client = open_catalog(self.options.stac_url)
        o = self.options
        return search_year(self._client, o.stac_url, o.collection, site.bbox, year, o.months, o.max_cloud)


def build_composites(sites: Sequence[Site], options: CompositeOptions, out_dir: Path,
                     reporter: Reporter) -> list[SiteComposites]:
    """Every year of every site into ``out_dir/NAME/image`` and ``/clear``, reusing finished years."""
    check_output_folder(out_dir)
    catalog, sign = Catalog(options), Signer(options.sas_token_url, options.collection)
    results = []
    with folder_lock(out_dir, "composites", reporter):
        for n, site in enumerate(sites):
            part = reporter.sub_range(100.0 * n / len(sites), 100.0 * (n + 1) / len(sites))
            results.append(_site(site, options, out_dir / site.name, catalog, sign, part))
    return results


def _site(site: Site, options: CompositeOptions, folder: Path, catalog: Catalog, sign: Callable[[str], str],
          reporter: Reporter) -> SiteComposites:
    crs = site_crs(site.bbox, options.crs)
    grid = site_grid(site.bbox, crs, options.resolution, site.native)
    for sub in (IMAGE_FOLDER, CLEAR_FOLDER):
        check_output_folder(folder / sub)
    result = SiteComposites(site.name, folder, crs, grid.width, grid.height)
    reporter.info(f"Site {site.name}: {grid.width} × {grid.height} pixels of {options.resolution:g} in {crs}")
    manifest = read_manifest(folder)
    parameters = options.year_parameters(crs, grid)
    for k, year in enumerate(options.years):
        part = reporter.sub_range(100.0 * k / len(options.years), 100.0 * (k + 1) / len(options.years))
        reporter.check()
        image, clear = image_path(folder, year), clear_path(folder, year)
        remove_partials([image, clear])
        scenes = catalog.scenes(site, year)
        items = [s.record() for s in scenes]
        if not scenes:
            reporter.warn(f"site {site.name}, {year}: no scene in months {_months(options.months)} with cloud cover "
                          f"≤ {options.max_cloud:g} %; no composite for this year")
            result.years.append(YearOutcome(year, "no scenes", []))
            continue
        record = manifest.get(str(year))
        why = reusable(record, items, parameters, folder)
        if why is None and record is not None:
            reporter.info(f"Year {year}: {len(scenes)} scene(s) as recorded, reused")
            outcome = YearOutcome(year, "reused", items, record.get("median_clear"), image, clear)
        else:
            reporter.info(f"Year {year}: {len(scenes)} scene(s), making the composite ({why})")
            assets = [SceneAssets.of(s) for s in scenes]
            for s in assets:
                reporter.info(f"  {s.scene.id}  {s.scene.datetime[:10]}  cloud {_cloud(s.scene)}  "
                              f"{next(iter(s.conventions.values())).rule}")
            made = compose_year(assets, grid, options.excluded_scl, image, clear, sign, options.stac_url, part)
            for warning in made.warnings:
                reporter.warn(warning)
            manifest[str(year)] = {**year_record(items, parameters, {"image": image, "clear": clear}, folder),
                                   "median_clear": made.median_clear}
            write_manifest(folder, manifest)
            outcome = YearOutcome(year, "made", items, made.median_clear, image, clear)
        if outcome.median_clear is not None and outcome.median_clear < MIN_CLEAR_OBSERVATIONS:
            reporter.warn(f"site {site.name}, {year}: a median of {outcome.median_clear:g} clear observation(s) per "
                          f"pixel (fewer than {MIN_CLEAR_OBSERVATIONS}); the composite may hold clouds or gaps — "
                          "widen MONTHS or raise MAX_CLOUD")
        result.years.append(outcome)
        part.progress(100.0)
    return result


def plan_composites(sites: Sequence[Site], options: CompositeOptions, out_dir: Path | None,
                    reporter: Reporter) -> list[SiteComposites]:
    """The dry run: each site's grid and each year's scenes with their cloud cover and the bytes of
    the COG tiles their windows cover (from the COG headers; no pixel is read, nothing written)."""
    catalog, sign = Catalog(options), Signer(options.sas_token_url, options.collection)
    results = []
    for site in sites:
        crs = site_crs(site.bbox, options.crs)
        grid = site_grid(site.bbox, crs, options.resolution, site.native)
        folder = (out_dir / site.name) if out_dir else Path(site.name)
        result = SiteComposites(site.name, folder, crs, grid.width, grid.height)
        whole = Window(0, 0, grid.width, grid.height)
        for year in options.years:
            reporter.check()
            scenes = catalog.scenes(site, year)
            total = 0
            with cloud_reads():
                for scene in scenes:
                    assets = SceneAssets.of(scene)
                    keys = [info.key for info in assets.bands.bands.values()] + [assets.bands.scl.key]
                    total += sum(window_bytes(sign(assets.href(k)), grid, whole, options.stac_url) for k in keys)
            result.years.append(YearOutcome(year, "planned", [{**s.record(), "cloud_cover": s.cloud_cover}
                                                              for s in scenes], bytes_needed=total))
        results.append(result)
    return results


def _months(months: Sequence[int]) -> str:
    return ",".join(str(m) for m in months)


def _cloud(scene: Scene) -> str:
    return "n/a" if scene.cloud_cover is None else f"{scene.cloud_cover:.1f} %"
