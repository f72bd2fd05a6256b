"""Train any registered architecture on EuroMineNet-layout sites.

``python -m export.train --arch NAME --data DIR [--val-data DIR] [--epochs N] [--device cuda|cpu]``

- Reproducible: torch, numpy and the sample order are seeded by ``--seed``; on the CPU the run
  uses deterministic kernels, so the same command gives the same checkpoint.
- AMP (float16 autocast with gradient scaling) on CUDA.
- Loss: cross-entropy plus soft Dice on the positive class over the valid pixels (nodata and
  the padding of sites smaller than a patch do not count).
- Validation after every epoch on whole validation sites, mapped by the plugin's own engine
  (``export.site_scores``: the tiles, overlap, blending, padding and valid pixels of
  ``euromine:mapfootprints``, the same path as ``export.zoo``'s held-out measurement) with the
  benchmark metrics of docs/metrics.md (pooled OA/P/R/F1/IoU, TIoU, CIoU and CA-TIoU for
  footprint and series models; change F1/IoU per interval class for change models). The
  checkpoint keeps the epoch with the best validation F1 of the positive class.
- Validation sites: ``--val-data``, else the release's val split when ``--data`` is the release,
  else every fifth site by name (site-disjoint either way).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from euromine_qgis.core import release
from euromine_qgis.core.engine import receptive_field
from euromine_qgis.core.engine.contract import TASK_TABLE, ModelInfo
from euromine_qgis.core.errors import EuroMineError, YearsError
from euromine_qgis.core.years import parse_years
from export import architectures
from export.data import (
    ChangePairs,
    DataError,
    FootprintPatches,
    SeriesStacks,
    TrainingSite,
    holdout_split,
    training_sites,
)
from export.field_scenes import site_scenes
from export.onnx import checkpoint_metadata
from export.site_scores import score_sites
from export.torch_model import TorchTileModel, run_module

log = logging.getLogger("export.train")

IGNORE = -100  # target of pixels the loss skips (not valid: nodata, padding)
DATASETS = {"footprint": FootprintPatches, "change": ChangePairs, "footprint_series": SeriesStacks}
DEVICES = ("cpu", "cuda")


class TrainingError(Exception):
    """A training job that cannot run as configured here (its message names the option)."""


@dataclass(frozen=True)
class TrainConfig:
    """One training job; each field is the ``python -m export.train`` option of its name (see
    ``--help``), with 0 for "the default" where the option says so."""

    arch: str
    data: Path
    out: Path
    val_data: Path | None = None
    epochs: int = 20
    batch_size: int = 8
    samples_per_epoch: int = 0  # random subset per epoch (0: all)
    lr: float = 2e-3
    width: int = 0  # channel width (0: the architecture's default)
    patch: int = release.PATCH_SIZE
    stride: int = 0  # patch stride on training sites (0: the patch size)
    device: str = "cpu"
    threads: int = 0  # CPU threads for torch (0: torch's default)
    seed: int = 0
    years: tuple[int, ...] | None = None  # None: every year
    init: Path | None = None

    def command(self) -> str:
        """The ``python -m export.train`` command line that runs this job, for provenance."""
        argv = []
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            text = ",".join(map(str, value)) if field.name == "years" else str(value)
            argv += [f"--{field.name.replace('_', '-')}", text]
        return "python -m export.train " + shlex.join(argv)


def config_problem(config: TrainConfig) -> str | None:
    """Why ``config`` cannot train here (an option out of range, or CUDA unavailable), or None."""
    if config.epochs < 1 or config.batch_size < 1:
        return "--epochs and --batch-size must be >= 1"
    if config.device not in DEVICES:
        return f"--device {config.device}: expected one of {', '.join(DEVICES)}"
    problem = cuda_problem() if config.device == "cuda" else None
    if problem:
        return f"--device cuda: {problem}"
    try:
        multiple = architectures.get(config.arch).multiple
    except KeyError as exc:
        return f"--arch: {exc.args[0]}"
    if config.patch % multiple:
        return f"--patch must be a multiple of {multiple} for {config.arch}"
    return None


def cuda_problem() -> str | None:
    """Why torch cannot train on a GPU here (its build, or the machine), or None when it can."""
    if torch.version.cuda is None:
        return (f"this torch build ({torch.__version__}) has no CUDA; on a machine with an NVIDIA GPU, "
                "`make env` (or `make env TORCH=cuda`) installs PyTorch's CUDA build")
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} has CUDA {torch.version.cuda} but finds no usable NVIDIA GPU on this machine"
    return None


def seed_everything(seed: int, device: torch.device) -> None:
    """Seed torch and numpy; deterministic kernels on the CPU."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)


def _augment(sample: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The same random flip and quarter turn for every array of a batch (last two axes)."""
    k = int(torch.randint(4, (1,), generator=generator))
    flip = bool(torch.randint(2, (1,), generator=generator))
    out = {}
    for key, t in sample.items():
        t = torch.rot90(t, k, dims=(-2, -1))
        out[key] = torch.flip(t, dims=(-1,)) if flip else t
    return out


def segmentation_loss(logits: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice of class 1 over the valid pixels; (N, T, K, H, W) series logits
    are folded into (N·T, K, H, W)."""
    if logits.ndim == 5:
        logits, mask, valid = logits.flatten(0, 1), mask.flatten(0, 1), valid.flatten(0, 1)
    target = torch.where(valid, mask, torch.full_like(mask, IGNORE))
    ce = F.cross_entropy(logits.float(), target, ignore_index=IGNORE)
    keep = valid.float()
    p = torch.softmax(logits.float(), dim=1)[:, 1] * keep
    y = (target == 1).float()
    dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    return ce + dice


# --------------------------------------------------------------------------- validation


def validate(model: nn.Module, info: ModelInfo, sites: Sequence[TrainingSite], device: torch.device) -> dict[str, Any]:
    """The benchmark scores of the module on whole validation sites, mapped by the plugin's engine
    as its export ``info`` will be, with the receptive field and alignment the export will record
    measured on the module's current weights; ``f1`` (of mining, or of change) is the checkpoint
    criterion."""
    tile_model = TorchTileModel(model, info, device)
    field = receptive_field.measure(tile_model, more_scenes=site_scenes(info))
    tile_model.info = replace(info, receptive_field=field.radius, alignment=field.alignment or 1)
    scores = score_sites(tile_model, sites)
    if info.task == "change":
        return {"f1": scores["change_f1_all"], "iou": scores["change_iou_all"], **scores}
    return dict(scores["micro"])


# --------------------------------------------------------------------------- training


def _validation_sites(config: TrainConfig, sites: list[TrainingSite]) -> tuple[list[TrainingSite], list[TrainingSite]]:
    if config.val_data:
        return sites, training_sites(config.val_data, years=config.years)
    names = {s.name for s in sites}
    if names & set(release.split_sites("train")):
        return (training_sites(config.data, split="train", years=config.years),
                training_sites(config.data, split="val", years=config.years))
    return holdout_split(sites)


def _data_description(train_sites: Sequence[TrainingSite], data_dir: Path) -> tuple[str, bool]:
    tags = [s.synthetic for s in train_sites]
    if all(tags):
        return f"{len(train_sites)} synthetic sites generated by export.synthetic ({data_dir.name})", True
    if any(tags):
        raise DataError(f"{data_dir}: mixes generated and real sites; train on one kind")
    return f"{len(train_sites)} EuroMineNet sites ({data_dir.name})", False


def warm_start(model: nn.Module, checkpoint: Path) -> None:
    """Copy every tensor of ``checkpoint`` whose name and shape match into ``model`` (e.g. a
    series model starting from the per-year model that shares its encoder and decoder)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    own = model.state_dict()
    shared = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not shared:
        raise DataError(f"{checkpoint}: no tensor matches the model's by name and shape")
    model.load_state_dict(shared, strict=False)
    log.info("initialised %d of %d tensors from %s", len(shared), len(own), checkpoint)


def train(config: TrainConfig) -> dict[str, Any]:
    """Run one training job; returns the checkpoint dict (also saved to ``config.out``).
    TrainingError when the job cannot run as configured (see config_problem), DataError or the
    engine's errors when its sites cannot be used."""
    problem = config_problem(config)
    if problem:
        raise TrainingError(problem)
    device = torch.device(config.device)
    seed_everything(config.seed, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    arch = architectures.get(config.arch)
    task = arch.task
    all_sites = training_sites(config.data, years=config.years)
    train_sites, val_sites = _validation_sites(config, all_sites)
    data_text, synthetic = _data_description(train_sites, Path(config.data))
    dataset = DATASETS[task](train_sites, patch=config.patch, stride=config.stride or None)
    classes = TASK_TABLE[task].classes
    # validation maps with the metadata the checkpoint's export will carry
    info = ModelInfo.from_json(checkpoint_metadata(arch.name, task, classes, config.patch, data_text, "unreleased"),
                               config.out, complete=True)
    model = arch.build(len(release.BANDS), len(classes), config.width or None)
    if config.init:
        warm_start(model, config.init)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    per_epoch = min(len(dataset), config.samples_per_epoch or len(dataset))
    weights = torch.ones(len(dataset), dtype=torch.float64)
    if task == "change":  # half of the draws from the (rare) samples whose label changes
        changed = torch.from_numpy(dataset.changed())
        if changed.any() and not changed.all():
            weights[changed] = float((~changed).sum()) / float(changed.sum())
        log.info("%d of %d pair samples hold change", int(changed.sum()), len(dataset))
    steps = config.epochs * -(-per_epoch // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=max(steps, 1), pct_start=0.1)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    generator = torch.Generator().manual_seed(config.seed)

    log.info("%s (%s, %.2f M parameters) on %s: %d training samples from %d sites, %d validation sites",
             arch.name, task, sum(p.numel() for p in model.parameters()) / 1e6, device, len(dataset),
             len(train_sites), len(val_sites))
    best: dict[str, Any] | None = None
    history = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.multinomial(weights, per_epoch, replacement=False, generator=generator).tolist()
        loader = DataLoader(Subset(dataset, order), batch_size=config.batch_size, shuffle=False, num_workers=0)
        started, total = time.time(), 0.0
        for batch in loader:
            batch = {k: t.to(device) for k, t in _augment(batch, generator).items()}
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = run_module(model, task, batch["image"])
                loss = segmentation_loss(logits, batch["mask"], batch["valid"])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.item() * len(batch["image"])
        metrics = validate(model, info, val_sites, device)
        record = {"epoch": epoch, "loss": total / per_epoch, "seconds": round(time.time() - started, 1), **metrics}
        history.append(record)
        rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}
        log.info("epoch %d: %s", epoch, json.dumps(rounded))
        f1 = metrics["f1"] if metrics["f1"] is not None else -1.0
        if best is None or f1 > best["validation"]["f1_for_selection"]:
            best = {
                "epoch": epoch,
                "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                "validation": dict(metrics, f1_for_selection=f1),
            }
    assert best is not None  # epochs >= 1: config_problem
    checkpoint = {
        "arch": arch.name,
        "task": task,
        "width": config.width or arch.width,
        "in_channels": len(release.BANDS),
        "classes": list(classes),
        "patch_size": config.patch,
        "state_dict": best["state_dict"],
        "epoch": best["epoch"],
        "validation": {k: v for k, v in best["validation"].items() if k != "f1_for_selection"},
        "history": history,
        "trained_on": data_text,
        "synthetic": synthetic,
        "train_sites": [s.name for s in train_sites],
        "val_sites": [s.name for s in val_sites],
        "seed": config.seed,
        "init": str(config.init) if config.init else None,
        "command": config.command(),
        "torch": str(torch.__version__),
    }
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, out)
    log.info("best epoch %d (validation F1 %s) saved to %s", best["epoch"], best["validation"]["f1"], out)
    return checkpoint


def parse_args(argv: Sequence[str] | None) -> TrainConfig:
    """The training job of a command line; argparse's usage error (SystemExit) for a bad one."""
    parser = argparse.ArgumentParser(prog="python -m export.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", required=True, choices=sorted(architectures.ARCHITECTURES))
    parser.add_argument("--data", required=True, type=Path, help="folder of sites in the EuroMineNet layout")
    parser.add_argument("--val-data", type=Path, help="folder of validation sites (default: see above)")
    parser.add_argument("--out", type=Path, help="checkpoint file (default runs/ARCH.pt)")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--samples-per-epoch", type=int, default=TrainConfig.samples_per_epoch,
                        help="random subset per epoch (0: all)")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--width", type=int, default=TrainConfig.width,
                        help="channel width (0: the architecture's default)")
    parser.add_argument("--patch", type=int, default=TrainConfig.patch)
    parser.add_argument("--stride", type=int, default=TrainConfig.stride,
                        help="patch stride on training sites (0: the patch size)")
    parser.add_argument("--device", default=TrainConfig.device, choices=DEVICES)
    parser.add_argument("--threads", type=int, default=TrainConfig.threads,
                        help="CPU threads for torch (0: torch's default)")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--years", help="train and validate on these years only, e.g. 2015-2019 (default: all)")
    parser.add_argument("--init", type=Path, help="checkpoint whose matching tensors initialise the model")
    args = parser.parse_args(argv)
    try:
        years = parse_years(args.years)
    except YearsError as exc:
        parser.error(str(exc))
    options = {field.name: getattr(args, field.name) for field in fields(TrainConfig)}
    config = TrainConfig(**{**options, "out": args.out or Path("runs") / f"{args.arch}.pt",
                            "years": tuple(years) if years else None})
    problem = config_problem(config)
    if problem:
        parser.error(problem)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: 2 when the job fails on its data or options."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    config = parse_args(argv)
    try:
        train(config)
    except (TrainingError, DataError, EuroMineError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
