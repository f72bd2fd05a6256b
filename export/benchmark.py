"""Reproduce the benchmark in one command: train, export, measure and rank every architecture.

``python -m export.benchmark --data DIR [--archs all|unet,bit,...] [--tasks footprint,change,series]
[--epochs N] [--device cuda|cpu] [--out DIR] [--seed S] [--onnx FILE ...] [--recipe ARCH:OPT=VALUE,... ...]``

- Sites: the release's train, val and test splits when ``--data`` is the EuroMineNet release;
  for other folders (generated sites) every fifth site by name is the test split and every
  fifth of the rest the validation split. The splits are linked under ``OUT/sites``.
- Per architecture (``OUT/runs/ARCH``): ``export.train`` trains it on the train split and keeps
  the epoch with the best validation F1, ``export.onnx`` exports the checkpoint with its parity
  check, and ``export.site_scores`` scores the ONNX file on the test split with the plugin's
  engine exactly as ``euromine:evaluate`` scores its footprints. Parameters, GFLOPs per 160²
  patch, throughput on the named device and training time come from ``export.model_cost``.
- ``--recipe ARCH:OPT=VALUE,...`` gives one architecture its own training recipe (``epochs``,
  ``samples-per-epoch``, ``batch-size``, ``lr``, ``width``) in place of the common one; it is part
  of what a kept architecture must match, and the leaderboard's Recipe column shows it.
- Resumable: a finished architecture's folder carries a manifest (``core.batch.manifest``) of
  its files and result; a rerun with the same settings keeps it. A failing architecture is
  recorded with its error and the others go on; a rerun tries it again.
- ``--onnx FILE ...`` adds models trained elsewhere, measured the same way on the test split.
- The bar: the bundled spectral baseline is measured on the same test split, as a footprint
  model and, for change, by post-classification (its two years' maps compared, as
  ``euromine:detectchange`` METHOD ``post_classification`` does). Its rows are references, not
  ranked; the leaderboard names every model below them.
- Outputs: ``OUT/leaderboard.csv``, ``.md`` and ``.html`` (``export.leaderboard``).
"""
from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx

from euromine_qgis.core import release
from euromine_qgis.core.batch.manifest import verified_result, write_manifest
from euromine_qgis.core.engine.bundled import resolve_bundled
from euromine_qgis.core.engine.change_routes import route_name
from euromine_qgis.core.engine.model import Model
from euromine_qgis.core.errors import YearsError
from euromine_qgis.core.io.checksum import sha256_of
from euromine_qgis.core.years import parse_years
from export import architectures, train
from export.change_routes import route_scores
from export.data import DataError, TrainingSite, holdout_split, training_sites
from export.leaderboard import CHANGE_SCORES, FOOTPRINT_SCORES, write_leaderboard
from export.model_cost import (
    gflops_per_patch,
    module_parameters,
    onnx_parameters,
    throughput_mpx_s,
)
from export.onnx import NATIVE_OPSET, OpsetError, export_checkpoint, load_checkpoint, written_opset
from export.site_scores import score_sites

log = logging.getLogger("export.benchmark")

SPLITS = ("train", "val", "test")
TASK_NAMES = {"footprint": "footprint", "change": "change", "series": "footprint_series"}
BASELINE = "spectral_baseline"  # the bundled model every trained architecture must beat


def parse_list(text: str, known: Sequence[str], what: str) -> list[str]:
    """The comma-separated names of ``text`` ('all': every one of ``known``), in the order of
    ``known``; ValueError naming an unknown one and the known ones."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(known)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"{what} '{text}': {'unknown ' + ', '.join(unknown) if unknown else 'names none'}; "
                         f"known: all, {', '.join(known)}")
    return [n for n in known if n in names]


def selected_architectures(archs: str, tasks: str) -> list[str]:
    """The registered architectures named by ``--archs`` whose task is one of ``--tasks``."""
    wanted = {TASK_NAMES[t] for t in parse_list(tasks, list(TASK_NAMES), "--tasks")}
    return [a for a in parse_list(archs, sorted(architectures.ARCHITECTURES), "--archs")
            if architectures.get(a).task in wanted]


def split_sites(data: Path, years: Sequence[int] | None = None) -> dict[str, list[TrainingSite]]:
    """The train, val and test sites of ``data``: the release's splits when its sites are the
    release's, else every fifth site by name for test and every fifth of the rest for val."""
    sites = training_sites(data, years=years)
    if {s.name for s in sites} & set(release.split_sites("train")):
        return {split: training_sites(data, split=split, years=years) for split in SPLITS}
    if len(sites) < 3:
        raise DataError(f"{data}: {len(sites)} site(s); the benchmark needs at least three (train, val, test)")
    rest, test = holdout_split(sites)
    train_sites, val = holdout_split(rest)
    return {"train": train_sites, "val": val, "test": test}


def link_splits(splits: dict[str, list[TrainingSite]], out: Path) -> dict[str, Path]:
    """A folder per split under ``out`` holding a link to each of its site folders."""
    folders = {}
    for split, sites in splits.items():
        folder = out / split
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for site in sites:
            (folder / site.name).symlink_to(site.root.resolve(), target_is_directory=True)
        folders[split] = folder
    return folders


def measured(onnx_path: Path, test_sites: Sequence[TrainingSite], device: str) -> dict[str, Any]:
    """Test-split scores, throughput and provenance of an ONNX file, run by the plugin's engine."""
    model = Model(onnx_path, device=device, scale=1.0)
    scores = score_sites(model, test_sites)
    row = {k: scores["micro"][k] for k in FOOTPRINT_SCORES} if "micro" in scores else \
        {k: scores.get(k) for k in CHANGE_SCORES}
    log.info("%s: measured on %d test site(s) on %s", onnx_path.name, len(test_sites), model.device_name)
    return {**row, "task": model.info.task, "trained_on": model.info.trained_on,
            "synthetic_training": model.info.synthetic, "throughput_mpx_s": throughput_mpx_s(model, test_sites),
            "device": f"{model.device_name} ({model.provider})", "onnx": str(onnx_path), "sha256": sha256_of(onnx_path)}


RECIPE_OPTIONS = {"epochs": int, "samples-per-epoch": int, "batch-size": int, "lr": float, "width": int}


def parse_recipes(texts: Sequence[str]) -> dict[str, dict[str, int | float]]:
    """``--recipe ARCH:OPT=VALUE,...`` texts as {architecture: {option: value}}; ValueError
    naming the text and what is wrong with it."""
    recipes: dict[str, dict[str, int | float]] = {}
    for text in texts:
        name, _, options = text.partition(":")
        if name not in architectures.ARCHITECTURES:
            raise ValueError(f"--recipe '{text}': unknown architecture '{name}'")
        if name in recipes:
            raise ValueError(f"--recipe '{text}': {name} has a recipe already")
        recipe = recipes[name] = {}
        for item in filter(None, options.split(",")):
            key, _, value = item.partition("=")
            if key not in RECIPE_OPTIONS:
                raise ValueError(f"--recipe '{text}': unknown option '{key}'; known: {', '.join(RECIPE_OPTIONS)}")
            try:
                recipe[key] = RECIPE_OPTIONS[key](value)
            except ValueError:
                raise ValueError(f"--recipe '{text}': {key} '{value}' is not a number") from None
            if recipe[key] <= 0 and key != "samples-per-epoch":
                raise ValueError(f"--recipe '{text}': {key} must be positive")
        if not recipe:
            raise ValueError(f"--recipe '{text}': no OPT=VALUE after '{name}:'")
    return recipes


def recipe_of(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The training recipe architecture ``name`` runs under: the common one, with its ``--recipe``."""
    own = {key.replace("-", "_"): value for key, value in args.recipes.get(name, {}).items()}
    return {key: own.get(key, getattr(args, key)) for key in (k.replace("-", "_") for k in RECIPE_OPTIONS)}


def recipe_text(recipe: dict[str, Any]) -> str:
    """A recipe as the leaderboard shows it: epochs × samples per epoch, peak learning rate."""
    return f"{recipe['epochs']} × {recipe['samples_per_epoch'] or 'all'}, lr {recipe['lr']:g}"


def train_config(name: str, dirs: dict[str, Path], checkpoint: Path, args: argparse.Namespace) -> train.TrainConfig:
    """The ``export.train`` job of architecture ``name`` under its recipe."""
    return train.TrainConfig(arch=name, data=dirs["train"], val_data=dirs["val"], out=checkpoint, patch=args.patch,
                             device=args.device, seed=args.seed, threads=args.threads,
                             years=tuple(args.years) if args.years else None, **recipe_of(name, args))


def run_architecture(name: str, dirs: dict[str, Path], test_sites: Sequence[TrainingSite], folder: Path,
                     args: argparse.Namespace) -> dict[str, Any]:
    """Train, export and measure architecture ``name`` into ``folder``; its leaderboard row."""
    arch = architectures.get(name)
    checkpoint_path = folder / "checkpoint.pt"
    started = time.perf_counter()
    checkpoint = train.train(train_config(name, dirs, checkpoint_path, args))
    seconds = time.perf_counter() - started
    try:
        onnx_path = export_checkpoint(checkpoint_path, folder / f"{name}.onnx", name=f"benchmark_{name}")
    except OpsetError as exc:  # opset 17 reaches older onnxruntimes; the exporter's own opset where it cannot
        log.warning("%s: %s", name, exc)
        onnx_path = export_checkpoint(checkpoint_path, folder / f"{name}.onnx", name=f"benchmark_{name}",
                                      opset=NATIVE_OPSET)
    module, _ = load_checkpoint(checkpoint_path)
    return {
        **measured(onnx_path, test_sites, args.device),
        "model": name, "architecture": f"{arch.title} (width {checkpoint['width']}); {arch.reference}",
        "parameters": module_parameters(module), "gflops_160": gflops_per_patch(module, arch.task),
        "train_seconds": seconds, "epochs": recipe_of(name, args)["epochs"], "best_epoch": checkpoint["epoch"],
        "source": checkpoint["command"],
    }


def run_onnx(path: Path, test_sites: Sequence[TrainingSite], args: argparse.Namespace) -> dict[str, Any]:
    """Measure a model trained elsewhere; its leaderboard row (no GFLOPs: no torch module)."""
    return {**measured(path, test_sites, args.device), "model": path.stem, "architecture": "from --onnx",
            "parameters": onnx_parameters(path), "source": f"--onnx {path}"}


def baseline_rows(test_sites: Sequence[TrainingSite], tasks: set[str], args: argparse.Namespace
                  ) -> list[dict[str, Any]]:
    """Reference rows of the bundled spectral baseline on the test split: as a footprint model
    (the bar of footprint and series models) and, when change models run, by post-classification
    (the bar of change models)."""
    path = resolve_bundled(BASELINE)
    row = {**measured(path, test_sites, args.device), "model": BASELINE, "baseline": True,
           "architecture": "bundled spectral index baseline (not trained)", "parameters": onnx_parameters(path),
           "source": f"bundled {path.name}", "status": "ok", "error": None}
    rows = [row] if tasks - {"change"} else []
    if "change" in tasks:
        scores = route_scores(Model(path, device=args.device, scale=1.0), list(test_sites))
        rows.append({**{k: v for k, v in row.items() if k not in FOOTPRINT_SCORES},
                     **{f"change_{k}": v for k, v in scores.items()},
                     "model": route_name("footprint", BASELINE), "task": "change",
                     "architecture": "the bundled spectral baseline's two years' maps compared"})
    return rows


def resumable(folder: Path, made_from: dict[str, Any], task: str, model: str, work) -> dict[str, Any]:
    """The recorded row of ``folder`` when its manifest verifies against ``made_from``; else the
    row ``work()`` returns (recorded by a manifest), or a failed row with the error."""
    row, reason = verified_result(folder, made_from)
    if row is not None:
        log.info("%s: kept (%s)", model, reason)
        return row
    log.info("%s: %s; running it", model, reason)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        row = dict(work(), status="ok", error=None)
    # Deliberately broad: one model failing in any way (a bad --onnx file, an architecture that
    # cannot train or export, a bug) is recorded in its row and the leaderboard, and the others go on.
    except Exception as exc:
        log.error("%s failed: %s", model, exc)
        log.debug("%s failed", model, exc_info=True)
        return {"model": model, "task": task, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    write_manifest(folder, made_from, row)
    return row


def run(args: argparse.Namespace) -> list[Path]:
    """Run the benchmark of ``args``; returns the leaderboard files."""
    out = args.out
    splits = split_sites(args.data, args.years)
    dirs = link_splits(splits, out / "sites")
    names = {split: [s.name for s in sites] for split, sites in splits.items()}
    log.info("sites: %s", "; ".join(f"{k} {len(v)}" for k, v in names.items()))
    test_sites = training_sites(dirs["test"], years=args.years)
    common = {k: getattr(args, k) for k in ("patch", "seed", "device", "years_text")}
    rows = []
    for name in args.arch_names:
        recipe = {**common, **recipe_of(name, args)}
        made_from = {"architecture": name, "recipe": recipe, "data": str(args.data.resolve()), "sites": names}
        row = resumable(out / "runs" / name, made_from, architectures.get(name).task, name,
                        lambda name=name: run_architecture(name, dirs, test_sites, out / "runs" / name, args))
        rows.append({**row, "recipe": recipe_text(recipe)})
    tasks = {architectures.get(name).task for name in args.arch_names} or {"footprint"}
    made_from = {"baseline": BASELINE, "sha256": sha256_of(resolve_bundled(BASELINE)), "tasks": sorted(tasks),
                 "device": args.device, "data": str(args.data.resolve()), "test_sites": names["test"]}
    recorded = resumable(out / "runs" / "baseline", made_from, "footprint", BASELINE,
                         lambda: {"rows": baseline_rows(test_sites, tasks, args)})
    rows += recorded.get("rows", [recorded])
    for path in args.onnx:
        made_from = {"onnx": str(path.resolve()), "sha256": sha256_of(path) if path.is_file() else None,
                     "device": args.device, "data": str(args.data.resolve()), "test_sites": names["test"]}
        rows.append(resumable(out / "runs" / f"onnx-{path.stem}", made_from, "unknown", path.stem,
                              lambda path=path: run_onnx(path, test_sites, args)))
    for row in rows:  # read from each file, so rows kept from an earlier run say it too
        if row.get("onnx") and Path(row["onnx"]).is_file():
            row["onnx_opset"] = written_opset(onnx.load(row["onnx"], load_external_data=False))
    described = (f"{len(names['test'])} test site(s) of {args.data} ({', '.join(names['test'])}), scored by the "
                 f"plugin's engine as euromine:evaluate scores footprints; command: {args.command}")
    paths = write_leaderboard(rows, out, "EuroMine benchmark", described)
    failed = [r["model"] for r in rows if r["status"] != "ok"]
    log.info("leaderboard: %s%s", paths[2], f"; failed: {', '.join(failed)}" if failed else "")
    return paths


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line (kept on the namespace as ``command`` for provenance)."""
    parser = argparse.ArgumentParser(prog="python -m export.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the EuroMineNet release or generated sites")
    parser.add_argument("--archs", default="all", help="'all' or comma-separated architecture names")
    parser.add_argument("--tasks", default="footprint,change,series", help="of footprint, change, series")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu", choices=train.DEVICES, help="training and measuring device")
    parser.add_argument("--out", type=Path, default=Path("build/benchmark"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--onnx", type=Path, nargs="*", default=[], metavar="FILE", help="models trained elsewhere")
    recipe = parser.add_argument_group("training recipe (export.train's options)")
    recipe.add_argument("--batch-size", type=int, default=8)
    recipe.add_argument("--patch", type=int, default=release.PATCH_SIZE)
    recipe.add_argument("--samples-per-epoch", type=int, default=0, help="random subset per epoch (0: all)")
    recipe.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    recipe.add_argument("--width", type=int, default=0, help="channel width (0: each architecture's default)")
    recipe.add_argument("--years", help="these years only, e.g. 2015-2019 (default: all)")
    recipe.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    recipe.add_argument("--recipe", action="append", default=[], metavar="ARCH:OPT=VALUE,...",
                        help="one architecture's own recipe, e.g. bit:epochs=4,samples-per-epoch=640,lr=5e-4 "
                             f"(options: {', '.join(RECIPE_OPTIONS)}); repeat for others")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    problem = train.cuda_problem() if args.device == "cuda" else None
    if problem:
        parser.error(f"--device cuda: {problem}")
    try:
        args.arch_names = selected_architectures(args.archs, args.tasks)
        args.recipes = parse_recipes(args.recipe)
        args.years_text, args.years = args.years, parse_years(args.years)
    except (ValueError, YearsError) as exc:
        parser.error(str(exc))
    args.command = "python -m export.benchmark " + shlex.join(list(sys.argv[1:] if argv is None else argv))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args(argv)
    try:
        for path in run(args):
            print(path)
    except DataError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
