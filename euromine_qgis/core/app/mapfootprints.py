"""euromine:mapfootprints — annual mining footprint rasters from annual images."""
from __future__ import annotations

from pathlib import Path

from ..executor import Executor
from ..maps.footprints import PROBABILITY_TYPES, map_footprints
from ..maps.preflight import check_run
from ..progress import Reporter
from ..results import footprint_results
from ..years import match_years, parse_years
from . import params
from .dry_run import dry_run_outcome
from .models import image_input, model_request, tile_settings
from .spec import AlgorithmSpec, Kind, Outcome, Output, Param, Values

IMAGES = Param(
    "IMAGES", Kind.RASTERS, "Annual images",
    help="one image per year; the year is read from the file or layer name (e.g. <code>Year2019.tif</code>).")
PROBABILITIES = Param(
    "PROBABILITIES", Kind.CHOICE, "Also write mining probabilities", choices=("none", *PROBABILITY_TYPES),
    default="none",
    help="also write <code>probability_YYYY.tif</code>: <code>uint8</code> 0–255 with a mask band for nodata, or "
         "<code>float32</code> 0–1 with NaN nodata.")


def dated(values: Values, name: str) -> list[tuple[int, Path]]:
    """(year, file) of the rasters of the RASTERS parameter ``name`` that YEARS selects, the year read
    from the file name, else from the layer name."""
    rasters = values[name]
    return match_years([r.path for r in rasters], parse_years(values[params.YEARS.name]),
                       names=[r.name for r in rasters])


def run(values: Values, reporter: Reporter, executor: Executor) -> Outcome:
    """Map each selected year's footprint (or, with DRY_RUN, check what that would do)."""
    images = dated(values, IMAGES.name)
    model = model_request(values).load(reporter)
    probabilities = values[PROBABILITIES.name]
    run_settings = {  # the arguments map_footprints and its pre-run check share
        "threshold": values[params.THRESHOLD.name], "settings": tile_settings(values),
        "probabilities": None if probabilities == "none" else probabilities,
        "temporal_filter": values[params.TEMPORAL_FILTER.name], "min_area_ha": values[params.MIN_AREA_HA.name],
        "image_input": image_input(values),
    }
    if values[params.DRY_RUN.name]:  # before OUTPUT_FOLDER is read: QGIS makes a temporary one on reading
        return dry_run_outcome({"": check_run(images, model, **run_settings)}, model, reporter)
    out_dir = values[params.OUTPUT_FOLDER.name]
    mapped = map_footprints(images, model, out_dir, reporter=reporter, executor=executor, **run_settings)
    lines = ["Year   Mining area (ha)   Footprint",
             *(f"{r.year}   {r.mining_ha:16.2f}   {r.footprint}" for r in mapped)]
    return Outcome(footprint_results(out_dir, mapped, model), lines, mapped)


SPEC = AlgorithmSpec(
    id="mapfootprints",
    title="Map mining footprints",
    group="Mapping",
    group_id="mapping",
    summary="annual mining footprint rasters from annual images",
    description=(
        "<p>Maps mining footprints in annual 10-band Sentinel-2 images, one raster per year "
        "(<code>footprint_YYYY.tif</code>: 1 mining, 0 not mining, 255 nodata) on exactly the input grid, and "
        "reports the mapped area per year in hectares (on the ellipsoid, in any CRS).</p>"),
    params=(IMAGES, params.YEARS, *params.MODEL_PARAMS, *params.ENGINE_PARAMS, PROBABILITIES,
            params.TEMPORAL_FILTER, params.MIN_AREA_HA, params.OUTPUT_FOLDER, params.DRY_RUN,
            params.SCHEDULER),
    outputs=(Output("FOOTPRINTS", "rasters", "Footprint rasters"),),
    results="OUTPUT_FOLDER, FOOTPRINTS (paths), PROBABILITY_RASTERS, AREA_HA (year → hectares), YEARS, MODEL_NAME, "
            "PROVIDER (the onnxruntime execution provider that ran), DEVICE_NAME (GPU or CPU model), PRECISION "
            "(the precision that ran).",
    example="processing.run('euromine:mapfootprints', {'IMAGES': [...], 'YEARS': '2015-2024', "
            "'MODEL': 'spectral_baseline', 'OUTPUT_FOLDER': '/tmp/fp'})",
    run=run,
    needs_models=True,
)
