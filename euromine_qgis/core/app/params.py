"""The parameters several algorithms share, each declared once with its default, choices, bounds,
label and help. An algorithm that needs another default or label takes ``PARAM.but(...)``."""
from __future__ import annotations

from ..engine.contract import FOOTPRINT_TASKS, RECEPTIVE_FIELD_TOLERANCE, TOLERANT_FIELD_TOLERANCE
from ..engine.devices import DEVICES
from ..engine.inference import MAX_TOLERANT_TILE, TILE_PER_OVERLAP, TOLERANT_TILE_PER_OVERLAP
from ..engine.precision import PRECISIONS
from ..maps.temporal_filter import TEMPORAL_FILTERS
from .spec import QGIS, AlgorithmSpec, Kind, Param

YEARS = Param(
    "YEARS", Kind.TEXT, "Years (e.g. 2015-2024 or 2016,2019)", optional=True, default="",
    help="e.g. <code>2015-2024</code> or <code>2016,2019</code>; empty: every year given. The year of each "
         "raster is read from its file name (<code>Year2019.tif</code>, <code>footprint_2019.tif</code>), "
         "else from its layer name.")

PAIRS = Param(
    "PAIRS", Kind.TEXT, "Change pairs (consecutive, all, first-last or 2016-2019, 2015-2024)", default="consecutive",
    help="the pairs of years to compare: <code>consecutive</code>, <code>all</code> (45 pairs for ten years), "
         "<code>first-last</code> or a list such as <code>2016-2019, 2015-2024</code>.")

TEMPORAL_FILTER = Param(
    "TEMPORAL_FILTER", Kind.CHOICE, "Temporal filter", choices=TEMPORAL_FILTERS, default="none",
    help="<code>none</code>, or <code>smooth3</code>/<code>smooth5</code>: a window of 3 or 5 valid years centred "
         "on each year (shifted inward at the first and last years, nodata years skipped) removes one-year "
         "flicker. Mapping images, each year's probability becomes the window's mean before THRESHOLD applies "
         "(every image must then share one grid); from footprints, each year's mask becomes the window's "
         "majority (a tie keeps the year's value).")

MIN_AREA_HA = Param(
    "MIN_AREA_HA", Kind.NUMBER, "Minimum mapping unit (ha): smaller mining patches and holes are removed",
    default=0.0, minimum=0.0,
    help="connected mining patches and non-mining holes smaller than this are removed from the footprints with "
         "GDAL's sieve filter (4-connected, as the polygons are; the threshold in pixels is MIN_AREA_HA divided "
         "by the raster's mean exact pixel area, rounded up); 0 keeps everything. It runs after TEMPORAL_FILTER "
         "on each finished year; nodata is never changed and never counts as a neighbour, so footprints do not "
         "grow into nodata. Areas and polygons follow it; probabilities are written as mapped. It holds one "
         "year's whole uint8 mask in memory (one byte per pixel).")

LAMBDA = Param(
    "LAMBDA", Kind.NUMBER, "λ: weight of the change term in CA-TIoU", default=0.5, minimum=0.0, maximum=1.0,
    help="CA-TIoU = (1 − λ)·TIoU + λ·CIoU.")

THRESHOLD = Param(
    "THRESHOLD", Kind.NUMBER, "Probability threshold", default=0.5, minimum=0.0, maximum=1.0,
    help="the mining probability above which a pixel is mapped as mining (and, with a change model, as "
         "changed).")

TILE_OVERLAP = Param(
    "TILE_OVERLAP", Kind.TEXT, "Tile overlap (auto, exact or pixels)", default="auto", advanced=True,
    help=f"<code>auto</code>: 2 × the model's tolerant receptive field + 1, so tiled probabilities stay within "
         f"{TOLERANT_FIELD_TOLERANCE:g} of running the model on the whole scene at once, in tiles about "
         f"{TOLERANT_TILE_PER_OVERLAP} times the overlap, at most {MAX_TOLERANT_TILE} px a side (each model "
         "card gives the field and the pixels that changed class at THRESHOLD 0.5 on held-out sites). "
         f"<code>exact</code>: 2 × the receptive field at {RECEPTIVE_FIELD_TOLERANCE:g} + 1 in tiles "
         f"{TILE_PER_OVERLAP} times the overlap: whole-scene results, bit for bit as earlier releases, at more "
         "time and memory. A number of pixels: that overlap; a smaller one is faster but changes probabilities "
         "near tile edges, and a pixel close to THRESHOLD may flip. The log names the tiling.")

BATCH_SIZE = Param(
    "BATCH_SIZE", Kind.INTEGER, "Tiles per batch (0 = automatic: by tile size, more on a GPU)", default=0,
    minimum=0, advanced=True,
    help="0: automatic, by tile size; halved automatically when the GPU runs out of memory.")

OUTPUT_FOLDER = Param(
    "OUTPUT_FOLDER", Kind.OUTPUT_FOLDER, "Output folder", temporary=True,
    help="where the rasters are written; left out in QGIS, a new temporary folder.")

DRY_RUN = Param(
    "DRY_RUN", Kind.FLAG, "Dry run: check the inputs and estimate tiles, memory and time; write nothing",
    default=False,
    help="check the inputs as a run does and write nothing (no output folder or file is created); log and "
         "return in DRY_RUN_REPORT what the run would do: tiles per image and the tiling; the band each model "
         "band is read from and the scaling verdict; CRS units and pixel size in metres; the nodata share of "
         "each year (from the file's overviews or a sample of its blocks); the estimated peak memory of the "
         "process (Python and the loaded model included, plus what onnxruntime grew by running one real batch, "
         "the row buffers, batches, accumulators, GDAL cache, and the TEMPORAL_FILTER and MIN_AREA_HA passes, "
         "per panel of the scene) and the estimated time from "
         "that batch, timed on the execution provider that would run (named). The command's "
         "<code>euromine check</code> does the same.")


def has_dry_run(spec: AlgorithmSpec) -> bool:
    """Whether a run of ``spec`` can be checked without writing anything (DRY_RUN)."""
    return any(p.name == DRY_RUN.name for p in spec.params)


SCHEDULER = Param(
    "SCHEDULER", Kind.TEXT, "Dask scheduler: tcp://HOST:8786, or local:N worker processes (empty: run here)",
    default="", optional=True, advanced=True,
    help="run the tasks (the years of mapfootprints, the sites of mapsites) on a Dask distributed cluster: "
         "<code>tcp://HOST:8786</code> (a running "
         "<code>dask scheduler</code> whose workers have EuroMine of this version installed and see the same "
         "paths) or <code>local:N</code> (N worker processes on this machine). Each worker opens the model once; "
         "workers write into hidden staging folders of OUTPUT_FOLDER and this run moves each result in place, so "
         "resuming works as in a local run. A scheduler that does not answer within 10 s, or workers with another "
         "EuroMine, Dask or Python version, are an error; cancelling stops the running tasks at their next tile. "
         "Needs Dask distributed (<code>pip install 'euromine[dask]'</code>).")

# the model and how the images feed it ------------------------------------------------------------

MODEL = Param(
    "MODEL", Kind.MODEL, "Bundled model", choices=FOOTPRINT_TASKS, default="spectral_baseline",
    optional=True, help="a bundled model (listed below); MODEL_FILE overrides it.")

MODEL_FILE = Param(
    "MODEL_FILE", Kind.FILE, "Own ONNX model file (overrides MODEL)", extension="onnx", optional=True,
    help="your own EuroMine ONNX model (docs: the model contract).")

DEVICE = Param(
    "DEVICE", Kind.CHOICE, "Execution device", choices=DEVICES, default="auto", advanced=True,
    help="<code>auto</code> takes TensorRT or CUDA when they load, else the CPU; an explicit GPU device that "
         "cannot be used is an error.")

PRECISION = Param(
    "PRECISION", Kind.CHOICE, "Numeric precision (auto: the fastest measured here within the accuracy bounds)",
    choices=PRECISIONS, default="auto", advanced=True,
    help="<code>auto</code>: on a model's first use on this machine and execution provider the engine times a "
         "few batches of fp32 and of each reduced-precision sibling within its accuracy bounds and runs the "
         "fastest, remembering the verdict per model, device and onnxruntime version; <code>fp32</code>; "
         "<code>int8</code>, the model's statically quantized sibling where one is bundled; <code>fp16</code>, "
         "CUDA and TensorRT only, an error on the CPU. The log says which precision ran and why.")

BANDS = Param("BANDS", Kind.TEXT, "Band names for a model without metadata (comma-separated)", default="",
              optional=True, advanced=True,
              help="with MEAN and STD, the normalization of a model without EuroMine metadata.")
MEAN = Param("MEAN", Kind.TEXT, "Per-band mean for normalization (comma-separated)", default="", optional=True,
             advanced=True)
STD = Param("STD", Kind.TEXT, "Per-band std for normalization (comma-separated)", default="", optional=True,
            advanced=True)

INPUT_BANDS = Param(
    "INPUT_BANDS", Kind.TEXT,
    "Image bands for the model's bands, in the model's order (numbers or names, comma-separated; empty: by band name)",
    default="", optional=True, advanced=True,
    help="an image may hold any number of bands in any order (a 13-band L2A export with B1, B9, SCL): where its "
         "band descriptions name Sentinel-2 bands (<code>B2</code>, <code>B02</code>, <code>SR_B2</code>, "
         "<code>B8A</code>; case, zero padding and one <code>PREFIX_</code> ignored), the model's bands are picked "
         "by name, in the model's order; an image with exactly the model's band count and no Sentinel-2 band "
         "names (as the EuroMineNet release) is read in order. INPUT_BANDS gives the mapping explicitly: one item "
         "per model band, each a 1-based band number or a band name of the image, e.g. "
         "<code>2,3,4,5,6,7,8,9,12,13</code>. An image that cannot be matched is refused with the bands it holds "
         "and the bands the model needs; the log names the bands chosen.")

SCALE = Param(
    "SCALE", Kind.NUMBER, "Scale: multiply the image values by (10000 for 0-1 reflectance)", default=1.0,
    minimum=0.0, advanced=True,
    help="multiplies the image values before normalization: <code>10000</code> for float 0–1 reflectance with a "
         "model trained on reflectance × 10000 (all bundled models). Nodata and the valid-pixel rule see the "
         "values as stored. Each image is sampled first and a warning, never an error, names the factor that "
         "fits when the typical band is 100 or more times off the model's statistics.")

MODEL_PARAMS = (MODEL, MODEL_FILE, DEVICE, PRECISION, BANDS, MEAN, STD, INPUT_BANDS, SCALE)
ENGINE_PARAMS = (THRESHOLD, TILE_OVERLAP, BATCH_SIZE)

# QGIS-only: the polygons QGIS draws with gdal:polygonize and writes with its vector writer
FOOTPRINT_POLYGONS = Param(
    "FOOTPRINT_POLYGONS", Kind.OUTPUT_FILE, "Footprint polygons per year (site, year, area_ha)",
    extension="GeoPackage (*.gpkg)", optional=True, surfaces=frozenset({QGIS}),
    help="an optional GeoPackage, one layer <code>footprints</code> of every year's mining polygons "
         "(gdal:polygonize, 4-connected) with fields <code>site</code>, <code>year</code> and <code>area_ha</code>, "
         "drawn from the masks the areas measure; ready to join with mining inventories. QGIS only.")
