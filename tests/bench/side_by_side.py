"""One measured run of the side-by-side bench (test_bench_deepness), in a fresh process.

    python tests/bench/side_by_side.py euromine SCENE MODEL OUT [--tile T --overlap O --batch B] [--threads N]
    python tests/bench/side_by_side.py deepness SCENE MODEL OUT --deepness-src SRC --tile T --overlap O --batch B

Maps SCENE (one image) end to end with the tool, then times ``InferenceSession.run`` alone over the
very batches of tiles the tool ran. Writes the mining mask to OUT/mask.npy (uint8: 1 mining,
0 not, 255 nodata) and prints one JSON line: seconds, raw_seconds, peak_kib (VmHWM right after the
run, before the raw timing), tiles. The deepness mode runs under Deepness's own venv and imports
nothing from EuroMine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
YEAR = 2020
DEEPNESS_MINING = 2  # Deepness writes class index + 1: 1 background, 2 the model's one class


def peak_kib() -> int:
    """This process's peak resident memory (VmHWM; ru_maxrss can report a parent's peak)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def fix_intra_op_threads(threads: int) -> None:
    """Make every onnxruntime SessionOptions of this process ask for ``threads`` intra-op threads
    (the engine has no thread setting of its own)."""
    import onnxruntime as ort

    class Options(ort.SessionOptions):
        def __init__(self) -> None:
            super().__init__()
            self.intra_op_num_threads = threads

    ort.SessionOptions = Options


def raw_session_run(model, scene: Path, settings) -> dict:
    """``InferenceSession.run`` alone over the batches the engine runs on ``scene`` with ``settings``
    (read beforehand, one at a time, as predict_rows cuts them): wall and process CPU seconds
    summed over the runs, and the tiles run. ``model`` is an engine Model, ``settings`` TileSettings."""
    import rasterio

    from euromine_qgis.core.engine.inference import engine_batches, engine_env, tile_layout

    wall = cpu = 0.0
    tiles = 0
    with engine_env(), rasterio.open(scene) as src:
        layout = tile_layout(model, src.height, src.width, settings, [src])
        for batch in engine_batches(model, [src], settings):
            tick, tick_cpu = time.perf_counter(), time.process_time()
            model.session.run([model.output_name], {model.input_names[0]: batch})
            wall += time.perf_counter() - tick
            cpu += time.process_time() - tick_cpu
            tiles += len(batch)
    return {"seconds": wall, "cpu_seconds": cpu, "tiles": tiles,
            "setting": f"tile {layout.tile_height}, overlap {layout.tiling.overlap}, batch {layout.batch_size}"}


def euromine(args: argparse.Namespace) -> dict:
    """EuroMine's map_footprints on the scene; raw: session.run over the engine's own batches."""
    sys.path.insert(0, str(REPO))
    if args.threads:
        fix_intra_op_threads(args.threads)
    import rasterio

    from euromine_qgis.core.engine.inference import TileSettings
    from euromine_qgis.core.engine.model import Model
    from euromine_qgis.core.maps.footprints import footprint_name, map_footprints
    from tests.plain_run import PLAIN_INPUT

    model = Model(args.model, device="cpu", scale=1.0)
    settings = TileSettings(tile=args.tile, overlap=args.overlap, batch_size=args.batch or 0)
    start = time.perf_counter()
    map_footprints([(YEAR, args.scene)], model, args.out, settings=settings,
                   threshold=0.5, temporal_filter="none", min_area_ha=0.0, image_input=PLAIN_INPUT)
    seconds = time.perf_counter() - start
    peak = peak_kib()
    with rasterio.open(args.out / footprint_name(YEAR)) as src:
        np.save(args.out / "mask.npy", src.read(1))
    raw = raw_session_run(model, args.scene, settings)
    return {"seconds": seconds, "raw_seconds": raw["seconds"], "peak_kib": peak, "tiles": raw["tiles"],
            "setting": raw["setting"]}


def deepness(args: argparse.Namespace) -> dict:
    """Deepness's MapProcessorSegmentation on the whole layer, built as its own tests build it;
    raw: its model's session.run over the batches its tile generator yields."""
    os.environ["IS_DEBUG"] = "1"  # MapProcessor.run re-raises instead of logging and returning
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(args.deepness_src))
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    from deepness.common.channels_mapping import (
        ChannelsMapping,
        ImageChannelStandaloneBand,
    )
    from deepness.common.processing_overlap import (
        ProcessingOverlap,
        ProcessingOverlapOptions,
    )
    from deepness.common.processing_parameters.map_processing_parameters import (
        ProcessedAreaType,
    )
    from deepness.common.processing_parameters.segmentation_parameters import (
        SegmentationParameters,
    )
    from deepness.processing.map_processor.map_processor_segmentation import (
        MapProcessorSegmentation,
    )
    from deepness.processing.models.segmentor import Segmentor

    rlayer = QgsRasterLayer(str(args.scene), "scene")
    if not rlayer.isValid():
        raise SystemExit(f"{args.scene}: QGIS cannot open it")
    QgsProject.instance().addMapLayer(rlayer)
    channels = ChannelsMapping()
    channels.set_image_channels([ImageChannelStandaloneBand(band_number=b, name=f"band {b}")
                                 for b in range(1, rlayer.bandCount() + 1)])
    channels.set_number_of_model_inputs_same_as_image_channels()
    model = Segmentor(str(args.model))
    params = SegmentationParameters(
        resolution_cm_per_px=rlayer.rasterUnitsPerPixelX() * 100,  # the scene's CRS is in metres
        tile_size_px=args.tile,
        batch_size=args.batch,
        local_cache=False,
        processed_area_type=ProcessedAreaType.ENTIRE_LAYER,
        mask_layer_id=None,
        input_layer_id=rlayer.id(),
        input_channels_mapping=channels,
        postprocessing_dilate_erode_size=0,  # no clean-up: a median blur of 1 px
        processing_overlap=ProcessingOverlap(ProcessingOverlapOptions.OVERLAP_IN_PIXELS, overlap_px=args.overlap),
        pixel_classification__probability_threshold=0.5,
        model=model,
    )
    processor = MapProcessorSegmentation(rlayer=rlayer, vlayer_mask=None, map_canvas=None, params=params)
    start = time.perf_counter()
    processor.run()
    seconds = time.perf_counter() - start
    peak = peak_kib()
    (result,) = processor.get_result_img()
    np.save(args.out / "mask.npy", (result == DEEPNESS_MINING).astype(np.uint8))
    raw, tiles = 0.0, 0
    for batch, _ in processor.tiles_generator_batched():
        x = model.preprocessing(batch)
        tick = time.perf_counter()
        model.sess.run(None, {model.input_name: x})
        raw += time.perf_counter() - tick
        tiles += len(batch)
    return {"seconds": seconds, "raw_seconds": raw, "peak_kib": peak, "tiles": tiles,
            "setting": f"tile {args.tile}, overlap {args.overlap}, batch {args.batch}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=("euromine", "deepness"))
    parser.add_argument("scene", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tile", type=int)
    parser.add_argument("--overlap", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: its own choice)")
    parser.add_argument("--deepness-src", type=Path, help="Deepness's unpacked src/ folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    figures = (euromine if args.tool == "euromine" else deepness)(args)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
