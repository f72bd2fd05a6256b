"""euromine:composites — annual 10-band composites of each site from a STAC API of Sentinel-2 L2A
scenes, in the EuroMineNet layout mapsites reads; optionally mapped straight away (THEN_MAP)."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..archive.packages import ARCHIVE_MODULE, ARCHIVE_PINS
from ..engine.contract import FOOTPRINT_TASKS
from ..errors import InputError
from ..executor import Executor
from ..io.layout import IMAGE_PATTERN
from ..progress import Reporter
from ..years import list_items, parse_years
from . import params
from .models import bundled_names
from .spec import CLI, QGIS, AlgorithmSpec, Kind, Outcome, Param, Values

if TYPE_CHECKING:
    from ..archive.run import CompositeOptions, SiteComposites
    from ..archive.sites import Site

QGIS_ONLY, CLI_ONLY = frozenset({QGIS}), frozenset({CLI})
NO_MAP = "none"

STAC_URL = Param(
    "STAC_URL", Kind.TEXT, "STAC API", default="https://earth-search.aws.element84.com/v1",
    help="the STAC API to search: Earth Search (default) or Planetary Computer "
         "(<code>https://planetarycomputer.microsoft.com/api/stac/v1</code>, with SAS_TOKEN_URL).")
COLLECTION = Param(
    "COLLECTION", Kind.TEXT, "Collection", default="sentinel-2-c1-l2a",
    help="the Sentinel-2 L2A collection: Earth Search's harmonised Collection 1 <code>sentinel-2-c1-l2a</code> "
         "(default), its older <code>sentinel-2-l2a</code>, or Planetary Computer's <code>sentinel-2-l2a</code>.")
EXTENT = Param(
    "EXTENT", Kind.EXTENT, "Site extent", optional=True, surfaces=QGIS_ONLY,
    help="the rectangle of one site (any CRS; drawn on the map canvas, say), named SITE_NAME. QGIS only; the "
         "command's <code>--bbox W,S,E,N</code> gives it in degrees.")
BBOX = Param(
    "BBOX", Kind.TEXT, "Site box W,S,E,N (degrees of longitude and latitude)", default="", optional=True,
    surfaces=CLI_ONLY, help="one site's box in WGS 84 degrees, named SITE_NAME. The command only.")
SITE_NAME = Param(
    "SITE_NAME", Kind.TEXT, "Site name (with EXTENT or BBOX)", default="", optional=True,
    help="the folder name of the site EXTENT or BBOX gives.")
SITES_LAYER = Param(
    "SITES_LAYER", Kind.POLYGONS, "Or: site outlines (polygons)", optional=True, surfaces=QGIS_ONLY,
    help="a polygon layer, one site per feature, named by NAME_FIELD; each site covers its outline's extent. "
         "QGIS only; the command reads a GeoJSON file (<code>--sites</code>).")
SITES = Param(
    "SITES", Kind.FILE, "Or: site outlines (GeoJSON file)", extension="geojson", optional=True, surfaces=CLI_ONLY,
    help="a GeoJSON FeatureCollection of polygons, one site per feature, named by NAME_FIELD (WGS 84, or the "
         "file's <code>crs</code> member). The command only.")
NAME_FIELD = Param(
    "NAME_FIELD", Kind.FIELD, "Site name field (with SITES_LAYER or SITES)", optional=True, parent="SITES_LAYER",
    help="the field (property) whose values name the sites' folders.")
YEARS = params.YEARS.but(
    label="Years (e.g. 2019-2024 or 2019,2022)", optional=False,
    help="the years to composite, e.g. <code>2019-2024</code> or <code>2019,2022</code>; one image per year.")
MONTHS = Param(
    "MONTHS", Kind.TEXT, "Months of the season (e.g. 4-10)", default="4-10",
    help="the months whose scenes enter a year's composite, e.g. <code>4-10</code> (April–October, the "
         "default), <code>6,7,8</code> or <code>11-2</code>. A longer season gives more clear observations; a "
         "shorter one avoids snow and low sun.")
MAX_CLOUD = Param(
    "MAX_CLOUD", Kind.NUMBER, "Maximum scene cloud cover (%)", default=80.0, minimum=0.0, maximum=100.0,
    help="scenes whose <code>eo:cloud_cover</code> is higher are not used. Clouds are masked per pixel by SCL "
         "anyway, so a high limit keeps more observations at the cost of reading more bytes.")
CRS = Param(
    "CRS", Kind.TEXT, "Output CRS (e.g. EPSG:32633; empty: the UTM zone of each site's centre)", default="",
    optional=True, advanced=True, help="a projected CRS in metres; empty: the WGS 84 UTM zone of each site's centre.")
RESOLUTION = Param(
    "RESOLUTION", Kind.NUMBER, "Pixel size (CRS units)", default=10.0, minimum=1.0, advanced=True,
    help="the output pixel size; the grid's bounds are multiples of it. The models were trained at 10 m.")
EXCLUDED_SCL = Param(
    "EXCLUDED_SCL", Kind.TEXT, "Scene classification (SCL) classes that are not clear", default="0,1,3,8,9,10",
    advanced=True,
    help="an observation is clear where the scene's SCL is none of these classes and the band is not nodata. "
         "Default: 0 no data, 1 saturated or defective, 3 cloud shadow, 8 cloud medium probability, 9 cloud high "
         "probability, 10 thin cirrus. Adding 2 (dark features) or 11 (snow) removes more.")
SAS_TOKEN_URL = Param(
    "SAS_TOKEN_URL", Kind.TEXT, "SAS token endpoint (Planetary Computer)", default="", optional=True, advanced=True,
    help="for services whose assets need signing: e.g. "
         "<code>https://planetarycomputer.microsoft.com/api/sas/v1/token</code>. The run gets "
         "<code>{SAS_TOKEN_URL}/{COLLECTION}</code> and appends the token to every asset's address, renewing it "
         "when it expires.")
THEN_MAP = Param(
    "THEN_MAP", Kind.CHOICE, "Then map the sites with", choices=(NO_MAP, *bundled_names(FOOTPRINT_TASKS)),
    default=NO_MAP,
    help="<code>none</code>, or a bundled footprint model: after the composites, mapsites maps each new site "
         "(footprints, change layers, trajectory) into <code>OUTPUT_FOLDER/NAME/maps/</code>.")
OUTPUT_FOLDER = params.OUTPUT_FOLDER.but(
    help=f"one folder per site: <code>NAME/{IMAGE_PATTERN}</code> (the composites), "
         "<code>NAME/clear/YearYYYY.tif</code> (clear observations per pixel) and <code>NAME/composites.json</code> "
         "(what a rerun reuses); left out in QGIS, a new temporary folder (nothing to resume).")
DRY_RUN = params.DRY_RUN.but(
    label="Dry run: list each year's scenes and the bytes to read; read no pixel, write nothing",
    help="search as a run does and list, per site and year, the scenes with their cloud cover and the bytes of "
         "the COG tiles the site's window covers (from the files' headers); no pixel is read and nothing is "
         "written. The command's <code>euromine check composites</code> does the same.")


def excluded_classes(text: str) -> frozenset[int]:
    """EXCLUDED_SCL as a set of classes 0–11."""
    try:
        classes = frozenset(int(part) for part in list_items(text))
    except ValueError as exc:
        raise InputError(f"EXCLUDED_SCL '{text}': write SCL classes 0–11 separated by commas") from exc
    if any(not 0 <= c <= 11 for c in classes):
        raise InputError(f"EXCLUDED_SCL '{text}': SCL classes run from 0 to 11")
    return classes


def chosen_sites(values: Values) -> list[Site]:
    """The sites of EXTENT or BBOX (named SITE_NAME), or of SITES_LAYER or SITES (named by NAME_FIELD)."""
    from ..archive.sites import Site, extent_site, geojson_sites, outline_sites, parse_bbox
    from ..batch.site_sources import safe_site_name

    extent, bbox = values.get(EXTENT.name), values.get(BBOX.name) or ""
    layer, file = values.get(SITES_LAYER.name), values.get(SITES.name)
    given = [n for n, v in ((EXTENT.name, extent), (BBOX.name, bbox), (SITES_LAYER.name, layer), (SITES.name, file))
             if v]
    if len(given) != 1:
        shown = f" (given: {', '.join(given)})" if given else ""
        raise InputError("give the area once: EXTENT (QGIS) or --bbox with a site name, or SITES_LAYER (QGIS) or "
                         f"--sites with a name field{shown}")
    if extent is not None or bbox:
        name = values.get(SITE_NAME.name) or ""
        if not name.strip():
            raise InputError("SITE_NAME: name the site (its folder under OUTPUT_FOLDER)")
        if extent is not None:
            return [extent_site(name, extent.shapes, extent.crs)]
        return [Site(safe_site_name(name), parse_bbox(bbox))]
    if layer is not None:
        return outline_sites(layer.shapes, layer.crs)
    return geojson_sites(Path(str(file)), values.get(NAME_FIELD.name) or "")


def options(values: Values) -> CompositeOptions:
    """The run's options from the parameters (each checked, with a message naming it)."""
    from ..archive.run import CompositeOptions
    from ..archive.search import parse_months

    years = parse_years(values[YEARS.name])
    if not years:
        raise InputError("YEARS: give the years to composite, e.g. 2019-2024")
    return CompositeOptions(
        stac_url=values[STAC_URL.name].strip(), collection=values[COLLECTION.name].strip(), years=years,
        months=parse_months(values[MONTHS.name]), max_cloud=values[MAX_CLOUD.name], crs=values[CRS.name] or "",
        resolution=values[RESOLUTION.name], excluded_scl=excluded_classes(values[EXCLUDED_SCL.name]),
        sas_token_url=values[SAS_TOKEN_URL.name] or "")


def archive_missing() -> str | None:
    """Why the archive packages cannot be imported, with how to install them; None when they can."""
    try:
        importlib.import_module(ARCHIVE_MODULE)
    except ImportError as exc:
        return (f"the composites need {', '.join(ARCHIVE_PINS)} ({exc}); install them with "
                "`pip install 'euromine[archive]'` (in QGIS: Install dependencies with PACKAGES archive)")
    return None


def run(values: Values, reporter: Reporter, executor: Executor) -> Outcome:
    """Composite every year of every site (or, with DRY_RUN, list what that would read)."""
    missing = archive_missing()
    if missing:
        raise InputError(missing)
    from ..archive.run import build_composites, plan_composites

    sites, chosen = chosen_sites(values), options(values)
    if values[DRY_RUN.name]:  # before OUTPUT_FOLDER is read: QGIS makes a temporary one on reading
        planned = plan_composites(sites, chosen, None, reporter)
        return Outcome(_results(planned, None), _plan_lines(planned), planned)
    out_dir = values[OUTPUT_FOLDER.name]
    made = build_composites(sites, chosen, out_dir, reporter)
    results, lines = _results(made, out_dir), _lines(made)
    model = values[THEN_MAP.name]
    if model and model != NO_MAP:
        results["MAPS"] = {}
        for site in made:
            outcome = _map_site(site, out_dir, model, reporter, executor)
            results["MAPS"][site.name] = outcome.results
            lines += [f"{site.name}: mapped with {model} into {site.folder / 'maps'}", *outcome.lines]
    return Outcome(results, lines, made)


def _map_site(site: SiteComposites, out_dir: Path, model: str, reporter: Reporter, executor: Executor) -> Outcome:
    """mapsites on the years of one site that have a composite, into ``NAME/maps``."""
    try:
        from . import mapsites  # the model code (onnxruntime) loads only when a run maps
    except ImportError as exc:
        raise InputError(f"THEN_MAP {model}: the models cannot run here ({exc}); the composites are complete — "
                         "install onnxruntime (in QGIS: Install dependencies) and map them with mapsites") from exc
    years = ",".join(str(y.year) for y in site.years if y.image is not None)
    values = {p.name: p.default for p in mapsites.SPEC.params}
    values.update({mapsites.SITES_FOLDER.name: out_dir, mapsites.SITES.name: site.name, params.YEARS.name: years,
                   params.MODEL.name: model, params.OUTPUT_FOLDER.name: site.folder / "maps",
                   params.DRY_RUN.name: False, params.SCHEDULER.name: ""})
    return mapsites.run(values, reporter, executor)


def _results(sites: list[SiteComposites], out_dir: Path | None) -> dict[str, Any]:
    return {"OUTPUT_FOLDER": str(out_dir) if out_dir else None, "SITE_NAMES": [s.name for s in sites],
            "SITES": {s.name: {"folder": str(s.folder), "crs": s.crs, "width": s.width, "height": s.height,
                               "years": {str(y.year): {"status": y.status, "scenes": y.scenes,
                                                       "median_clear": y.median_clear,
                                                       "image": str(y.image) if y.image else None,
                                                       "clear": str(y.clear) if y.clear else None,
                                                       "bytes_needed": y.bytes_needed}
                                         for y in s.years}} for s in sites}}


def _lines(sites: list[SiteComposites]) -> list[str]:
    lines = ["Site                 year  status      scenes  median clear"]
    for s in sites:
        for y in s.years:
            clear = "" if y.median_clear is None else f"{y.median_clear:g}"
            lines.append(f"{s.name:20} {y.year}  {y.status:10} {len(y.scenes):7}  {clear}")
    return lines


def _plan_lines(sites: list[SiteComposites]) -> list[str]:
    lines = []
    for s in sites:
        lines.append(f"Site {s.name}: {s.width} × {s.height} pixels in {s.crs}")
        for y in s.years:
            lines.append(f"  {y.year}: {len(y.scenes)} scene(s), {(y.bytes_needed or 0) / 1e6:.1f} MB to read")
            lines += [f"    {i['id']}  {i['datetime'][:10]}  cloud "
                      f"{'n/a' if i['cloud_cover'] is None else format(i['cloud_cover'], '.1f') + ' %'}"
                      for i in y.scenes]
    return lines


SPEC = AlgorithmSpec(
    id="composites",
    title="Annual composites from a STAC archive",
    group="Site workflows",
    group_id="workflows",
    summary="annual 10-band Sentinel-2 composites of each site from a STAC API, ready for mapsites",
    description=(
        "<p>Searches a STAC API (Earth Search or Planetary Computer) for the Sentinel-2 L2A scenes of each site "
        "in MONTHS of each of YEARS with a cloud cover up to MAX_CLOUD, and writes one composite per year: per "
        "pixel and band, the median of the year's clear observations (SCL not in EXCLUDED_SCL, band not nodata). "
        "Output: <code>OUTPUT_FOLDER/NAME/image/YearYYYY.tif</code>, 10 int16 bands B2 B3 B4 B5 B6 B7 B8 B8A B11 "
        "B12, reflectance × 10000 with nodata 0 (valid pixels clipped to 1–32767), on a grid in CRS at RESOLUTION "
        "whose bounds are multiples of it: the EuroMineNet layout that mapsites reads. "
        "<code>clear/YearYYYY.tif</code> counts each pixel's clear observations; a year whose median pixel has "
        "fewer than 3 is warned about.</p>"
        "<p><b>Bands</b> are found from each item's metadata (<code>eo:bands</code> names, common names where "
        "unique, centre wavelengths), never from asset keys. The 20 m bands (B5, B6, B7, B8A, B11, B12) and SCL "
        "are resampled onto the output grid with nearest neighbour. <b>Harmonisation</b>, per item from its "
        "metadata: <code>earthsearch:boa_offset_applied</code> true (Earth Search removed the offset: DN; it "
        "comes first because those items declare a <code>raster:bands</code> offset whatever it says), else the "
        "asset's <code>raster:bands</code> scale and offset (or STAC 1.1 <code>bands</code>), else "
        "<code>s2:processing_baseline</code> 04.00 or later (DN − 1000), else DN; a check of the pixels warns, "
        "naming the item, when they contradict the metadata.</p>"
        "<p><b>Resumable</b>: <code>composites.json</code> records each finished year's items, parameters and file "
        "checksums; a rerun reuses the years whose items and parameters are unchanged and makes the others again. "
        "Files take their names only when complete. Searches and reads are retried with backoff on 429, 5xx and "
        "time-outs; a failure names the STAC API and the step. Needs pystac-client "
        "(<code>pip install 'euromine[archive]'</code>; in QGIS, Install dependencies).</p>"),
    params=(STAC_URL, COLLECTION, EXTENT, BBOX, SITE_NAME, SITES_LAYER, SITES, NAME_FIELD, YEARS, MONTHS, MAX_CLOUD,
            CRS, RESOLUTION, EXCLUDED_SCL, SAS_TOKEN_URL, THEN_MAP, OUTPUT_FOLDER, DRY_RUN),
    results="OUTPUT_FOLDER, SITE_NAMES, SITES (per site: folder, crs, width, height and per year: status made, "
            "reused or no scenes, scenes (id, datetime, updated), median_clear, image, clear, bytes_needed in dry "
            "runs), MAPS (with THEN_MAP: mapsites' results per site).",
    example="processing.run('euromine:composites', {'EXTENT': '13.30,13.35,52.40,52.43 [EPSG:4326]', "
            "'SITE_NAME': 'Quarry', 'YEARS': '2019-2024', 'OUTPUT_FOLDER': '/tmp/composites'})['SITES']",
    run=run,
)
