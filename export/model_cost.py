"""What a model costs: parameters, GFLOPs per 160² patch and the plugin engine's throughput.

- Parameters: counted on the torch module, or on an ONNX file's initializers (a model trained
  elsewhere, ``export.benchmark --onnx``).
- GFLOPs: one forward pass on one benchmark patch (160 × 160; a change model's pair, a series
  model's ten years), counted by torch's own ``torch.utils.flop_counter.FlopCounterMode``
  (a multiply-add counts as two FLOPs).
- Throughput: map pixels per second of ``core.engine.inference.predict_rows`` (through
  ``export.site_scores.map_scene``, the path of ``euromine:mapfootprints``) on the device the
  session runs on, over one scene per site after a warm-up scene.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch
from torch.utils.flop_counter import FlopCounterMode

from euromine_qgis.core import release
from euromine_qgis.core.engine.model import Model
from export.data import TrainingSite
from export.onnx import example_inputs
from export.site_scores import map_scene

SERIES_YEARS = 10  # a EuroMineNet site's years 2015-2024


def module_parameters(module: torch.nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def onnx_parameters(path: Path) -> int:
    """Number of weights stored in the initializers of the ONNX file ``path``."""
    total = 0
    for tensor in onnx.load(str(path), load_external_data=False).graph.initializer:
        count = 1
        for dim in tensor.dims:
            count *= dim
        total += count
    return total


def gflops_per_patch(module: torch.nn.Module, task: str) -> float:
    """GFLOPs of one forward pass of ``module`` on one benchmark patch of the release's bands."""
    size = release.PATCH_SIZE
    inputs = example_inputs(task, 1, len(release.BANDS), size, size, steps=SERIES_YEARS)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module.eval()(*inputs)
    return counter.get_total_flops() / 1e9


def scene_images(model: Model, site: TrainingSite) -> list[Path]:
    """The images of one scene of ``site`` for ``model``: the first year, the (first, last) pair of
    a change model, every year for a series model."""
    if model.info.task == "change":
        return [site.image(site.years[0]), site.image(site.years[-1])]
    if model.info.series:
        return [site.image(y) for y in site.years]
    return [site.image(site.years[0])]


def throughput_mpx_s(model: Model, sites: Sequence[TrainingSite]) -> float:
    """Mapped megapixels per second (a series model's every year counted) of the engine running
    ``model`` on one scene of each of ``sites``, after mapping the first one once to warm up."""
    scenes = [scene_images(model, site) for site in sites]
    map_scene(model, scenes[0])
    pixels = 0
    started = time.perf_counter()
    for images in scenes:
        probability, _ = map_scene(model, images)
        pixels += probability.size
    return pixels / (time.perf_counter() - started) / 1e6
