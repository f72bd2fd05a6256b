"""The flags several subcommands share, named after the algorithms' parameters (``TILE_OVERLAP`` ->
``--tile-overlap``) with their defaults, and what they turn into for the engine: a model request,
tile settings, image input settings."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.engine.bundled import SYNTHETIC_LABEL, bundled_models, resolve_bundled
from ..core.engine.contract import FOOTPRINT_TASKS, NormalizationOverride
from ..core.engine.devices import DEVICES
from ..core.engine.overrides import parse_override
from ..core.engine.precision import PRECISIONS
from ..core.engine.scaling import ImageInput
from ..core.errors import ModelError
from ..core.executor import LOCAL, Executor
from ..core.io.bands import parse_input_bands
from ..core.maps.temporal_filter import TEMPORAL_FILTERS
from ..core.progress import Reporter
from ..core.years import parse_years

if TYPE_CHECKING:
    from ..core.engine.inference import TileSettings
    from ..core.engine.model import Model


def absolute_path(text: str) -> Path:
    """A path flag's value made absolute (as QGIS hands algorithms their files), so that result
    dicts and messages name files wherever the command was started."""
    return Path(text).absolute()


def files(parser: argparse.ArgumentParser, flag: str, help_text: str, required: bool = True) -> None:
    """A multiple-layers parameter: ``flag`` takes one or more files and may be repeated."""
    parser.add_argument(flag, nargs="+", action="extend", type=absolute_path, required=required, metavar="FILE",
                        help=help_text + " (one or more; the flag may repeat)")


def output_folder(parser: argparse.ArgumentParser) -> None:
    """OUTPUT_FOLDER. Required here: QGIS's default, a temporary folder of the QGIS session, has no
    counterpart in a command that ends."""
    parser.add_argument("--output-folder", type=absolute_path, required=True, help="where the rasters are written")


def dry_run(parser: argparse.ArgumentParser) -> None:
    """DRY_RUN."""
    parser.add_argument("--dry-run", action="store_true",
                        help="check the inputs and estimate tiles, memory and time; write nothing (as euromine check)")


def years(parser: argparse.ArgumentParser) -> None:
    """YEARS."""
    parser.add_argument("--years", default=None, help="years, e.g. 2015-2024 or 2016,2019 (default: every year)")


def temporal_filter(parser: argparse.ArgumentParser) -> None:
    """TEMPORAL_FILTER."""
    parser.add_argument("--temporal-filter", choices=TEMPORAL_FILTERS, default="none", help="temporal filter")


def min_area(parser: argparse.ArgumentParser) -> None:
    """MIN_AREA_HA."""
    parser.add_argument("--min-area-ha", type=float, default=0.0,
                        help="minimum mapping unit (ha): smaller mining patches and holes are removed (0 keeps all)")


def pairs(parser: argparse.ArgumentParser, default: str | None) -> None:
    """PAIRS."""
    parser.add_argument("--pairs", default=default,
                        help="change pairs: consecutive, all, first-last or 2016-2019, 2015-2024"
                             + (f" (default {default})" if default else " (default: none)"))


def lambda_(parser: argparse.ArgumentParser) -> None:
    """LAMBDA."""
    parser.add_argument("--lambda", dest="lam", type=float, default=0.5,
                        help="weight of the change term in CA-TIoU (default 0.5)")


def bundled_names(tasks: tuple[str, ...]) -> list[str]:
    """The bundled models of ``tasks`` (none from a damaged install: --model-file still works)."""
    try:
        return [m.name for m in bundled_models() if m.task in tasks]
    except ModelError:
        return []


def model_choice(parser: argparse.ArgumentParser, flag: str, file_flag: str, tasks: tuple[str, ...],
                 default: str | None, what: str) -> None:
    """A bundled model of ``tasks`` by name (the algorithm's MODEL enum) and a file overriding it."""
    names = bundled_names(tasks)
    if default not in names:
        default = names[0] if names else None
    parser.add_argument(flag, choices=names, default=default, help=f"bundled {what} (default {default})")
    parser.add_argument(file_flag, type=absolute_path, default=None, help=f"own {what} file (ONNX, overrides {flag})")


def model_options(parser: argparse.ArgumentParser, tasks: tuple[str, ...] = FOOTPRINT_TASKS) -> None:
    """MODEL, MODEL_FILE, DEVICE, PRECISION, BANDS, MEAN, STD, INPUT_BANDS and SCALE."""
    model_choice(parser, "--model", "--model-file", tasks, "spectral_baseline", "model")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="execution device (default auto)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="numeric precision (default auto: the fastest measured here within the accuracy "
                             "bounds; fp16 only on CUDA and TensorRT)")
    parser.add_argument("--bands", default="", help="band names for a model without metadata (comma-separated)")
    parser.add_argument("--mean", default="", help="per-band mean for normalization (comma-separated)")
    parser.add_argument("--std", default="", help="per-band std for normalization (comma-separated)")
    parser.add_argument("--input-bands", default="",
                        help="image bands for the model's bands, in the model's order (numbers or names, "
                             "comma-separated; empty: by band name)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the image values by this (10000 for 0-1 reflectance; default 1)")


def engine_options(parser: argparse.ArgumentParser) -> None:
    """THRESHOLD, TILE_OVERLAP and BATCH_SIZE."""
    parser.add_argument("--threshold", type=float, default=0.5, help="probability threshold (default 0.5)")
    parser.add_argument("--tile-overlap", type=int, default=None,
                        help="tile overlap in pixels (default: from the model: exact whole-scene results)")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="tiles per batch (0 = automatic: by tile size, more on a GPU)")


def read_years(args: argparse.Namespace) -> list[int] | None:
    """The years --years selects, or None for every year."""
    return parse_years(args.years)


def read_image_input(args: argparse.Namespace) -> ImageInput:
    """--input-bands and --scale as the engine takes them."""
    return ImageInput(parse_input_bands(args.input_bands), args.scale)


def read_tile_settings(args: argparse.Namespace) -> TileSettings:
    """The engine's tiling from --tile-overlap and --batch-size."""
    from ..core.engine.inference import TileSettings

    return TileSettings(overlap=args.tile_overlap, batch_size=args.batch_size)


@dataclass(frozen=True)
class ModelRequest:
    """Which model to open and how: plain values, so that another process can open the same model."""

    path: Path
    role: str  # "Model" or "Change model", as the log names it
    device: str = "auto"
    override: NormalizationOverride | None = None
    scale: float = 1.0
    precision: str = "auto"

    def load(self, reporter: Reporter) -> Model:
        """The model on its device at its precision; the log says which execution provider and device
        run it, which precision and why, and a model trained on synthetic sites is a warning."""
        from ..core.engine.model import Model

        model = Model(self.path, device=self.device, override=self.override, scale=self.scale,
                      precision=self.precision)
        reporter.info(f"Execution provider: {model.provider} on {model.device_name} ({model.info.name})")
        reporter.info(f"Precision: {model.precision} ({model.path.name}; {model.precision_reason})")
        if model.info.synthetic:
            reporter.warn(f"{self.role} '{model.info.name}' was {SYNTHETIC_LABEL}.")
        return model


def scheduler(parser: argparse.ArgumentParser, tasks: str) -> None:
    """SCHEDULER: run the ``tasks`` on a Dask cluster."""
    parser.add_argument("--scheduler", default="",
                        help=f"run the {tasks} as tasks of a Dask cluster: tcp://HOST:8786 (a running scheduler) or "
                             "local:N (N local worker processes); needs pip install 'euromine[dask]' (default: here)")


def executor(args: argparse.Namespace, request: ModelRequest, model: Model) -> Executor:
    """Where the tasks run: the Dask cluster --scheduler names, whose workers open the model of
    ``request`` (Dask is imported only then), or here without it."""
    from ..core.batch.distributed import Cluster, ModelSpec, parse_scheduler

    where = parse_scheduler(args.scheduler)
    if where is None:
        return LOCAL
    # the workers open the file that runs here (a precision sibling included)
    return Cluster(where, ModelSpec.of(model.path, request.device, request.override, request.scale))


def model_request(args: argparse.Namespace) -> ModelRequest:
    """The footprint model --model / --model-file name, with --bands/--mean/--std, --device and --scale."""
    override = parse_override(args.bands, args.mean, args.std)
    return ModelRequest(_model_path(args.model_file, args.model, "--model", "--model-file"), "Model",
                        args.device, override, args.scale, args.precision)


def change_model_request(args: argparse.Namespace) -> ModelRequest:
    """The change model --change-model / --change-model-file name (no normalization overrides)."""
    return ModelRequest(_model_path(args.change_model_file, args.change_model, "--change-model",
                                    "--change-model-file"), "Change model", args.device, scale=args.scale,
                        precision=args.precision)


def _model_path(model_file: Path | None, name: str | None, flag: str, file_flag: str) -> Path:
    if model_file is not None:
        return model_file
    if not name:
        raise ModelError(f"choose a bundled model with {flag} or give a {file_flag}")
    return resolve_bundled(name)
