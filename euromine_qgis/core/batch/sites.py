"""Many sites in one run: per site footprints, change layers and (where labelled) evaluation,
then one summary table and page.

Resumable: a site's outputs are made in a hidden staging folder beside the output folder, the
manifest (batch/manifest.py) is written last, and only then is the folder renamed to the site's
name. A later run skips a site whose folder verifies against its manifest and the same inputs
and parameters, and redoes any other; leftovers of an interrupted run are removed. One run at a
time per output folder: the run holds the folder's lock (io/folder_lock.py).
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..engine.bundled import SYNTHETIC_LABEL
from ..engine.inference import TileSettings, resolve_tiling
from ..engine.model import Model
from ..engine.scaling import ImageInput
from ..errors import OutputError
from ..executor import LOCAL, Executor
from ..io.checksum import sha256_of
from ..io.clip import clip_mosaic
from ..io.folder_lock import folder_lock
from ..io.layout import image_path
from ..io.outputs import check_output_folder
from ..maps.change_layers import change_layers
from ..maps.footprints import check_images, check_settings, map_footprints
from ..pairs import parse_pairs
from ..progress import Reporter
from ..scoring.evaluation import evaluate_rasters
from ..scoring.report import write_report, write_table
from ..scoring.summary import aggregate, site_row, write_summary_report, write_summary_table
from .manifest import has_manifest, verified_result, write_manifest
from .site_sources import SiteSource, split_of

SUMMARY_TABLE = "summary.csv"
SUMMARY_REPORT = "summary.html"


@dataclass(frozen=True)
class SiteOptions:
    """How every site is mapped and scored."""

    threshold: float
    settings: TileSettings
    temporal_filter: str
    pairs: str
    lam: float
    site_reports: bool  # an HTML report per labelled site (plots take about a second a site)
    image_input: ImageInput  # INPUT_BANDS and the SCALE the model was loaded with
    min_area_ha: float  # minimum mapping unit of the footprints (maps.min_area)


@dataclass(frozen=True)
class SiteOutcome:
    """One site's folder, whether it was mapped now or reused, and its recorded figures."""

    name: str
    folder: Path
    status: str  # "mapped" or "reused"
    record: dict[str, Any]

    def path(self, relative: str | None) -> Path | None:
        return None if relative is None else self.folder / relative


@dataclass(frozen=True)
class SitesResult:
    """Every site's outcome, the summary files and the pooled scores."""

    sites: list[SiteOutcome]
    table: Path
    report: Path
    pooled: dict[str, Any]


def map_sites(sites: Sequence[SiteSource], model: Model, out_dir: Path, options: SiteOptions,
              reporter: Reporter = Reporter(), executor: Executor = LOCAL) -> SitesResult:
    """Map, derive and score every site into ``out_dir/{site}``, reusing verified sites, then
    write ``summary.csv`` and ``summary.html`` in ``out_dir``. Each site to map is a task of
    ``executor`` (here by default; batch.distributed for a Dask cluster); its manifest, its
    folder's rename and the summary are written here."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    with folder_lock(out_dir, "mapsites", reporter):
        return _map_sites_locked(sites, model, out_dir, options, reporter, executor)


@dataclass(frozen=True)
class SiteJob:
    """A site that has to be mapped, as a task (core.executor): where its folder goes, what it is
    made from (its manifest's made_from) and how it is mapped."""

    announcement: str  # the log line that says the site is being mapped, and why
    site: SiteSource
    target: Path
    made_from: dict[str, Any]
    options: SiteOptions

    @property
    def label(self) -> str:
        return self.site.name

    def __call__(self, model: Model, reporter: Reporter) -> tuple[Path, dict[str, Any]]:
        """The site mapped into its staging folder (stage_site), for commit_site."""
        reporter.info(self.announcement)
        return stage_site(self.site, model, self.target, self.options, reporter)


def _map_sites_locked(sites: Sequence[SiteSource], model: Model, out_dir: Path, options: SiteOptions,
                      reporter: Reporter, executor: Executor) -> SitesResult:
    """map_sites while it holds the output folder's lock."""
    _check_inputs(sites, model, options)
    parameters = output_settings(model, options)
    outcomes: dict[str, SiteOutcome] = {}
    jobs = []
    for n, site in enumerate(sites):
        reporter.check()
        target = out_dir / site.name
        remove_leftovers(target)
        made_from = {"parameters": parameters, "inputs": site.signature()}
        record, reason = verified_result(target, made_from)
        if record is not None:
            reporter.info(f"Site {n + 1}/{len(sites)} {site.name}: {reason}, skipped")
            outcomes[site.name] = SiteOutcome(site.name, target, "reused", record)
            continue
        check_target(target)
        jobs.append(SiteJob(f"Site {n + 1}/{len(sites)} {site.name}: mapping ({reason})", site, target, made_from,
                            options))

    def commit(job: SiteJob, result: tuple[Path, dict[str, Any]]) -> None:
        staging, record = result
        commit_site(staging, job, record)
        outcomes[job.site.name] = SiteOutcome(job.site.name, job.target, "mapped", record)

    try:
        executor.run(jobs, model, reporter, commit)
    finally:  # staging folders of failed or killed tasks
        for job in jobs:
            remove_leftovers(job.target)
    in_order = [outcomes[site.name] for site in sites]
    records = [o.record for o in in_order]
    pooled = aggregate(records, options.lam)
    rows = [site_row(o.record, o.status) for o in in_order]
    reports = {o.name: f"{o.name}/{o.record['evaluation']['report']}" for o in in_order
               if o.record.get("evaluation") and o.record["evaluation"]["report"]}
    table = write_summary_table(rows, pooled, out_dir / SUMMARY_TABLE)
    trained = SYNTHETIC_LABEL if model.info.synthetic else f"trained on {model.info.trained_on}"
    note = f"model {model.info.name} ({trained}), λ = {options.lam:g}"
    report = write_summary_report(rows, pooled, reports, out_dir / SUMMARY_REPORT, note)
    return SitesResult(in_order, table, report, pooled)


def output_settings(model: Model, options: SiteOptions) -> dict[str, Any]:
    """Every setting that changes a site's outputs, for its manifest: the model file's sha256, the
    metadata the model runs with (BANDS/MEAN/STD overrides applied), the tile size and overlap it
    runs at (resolve_tiling) and every option. Batch size and read-ahead change only speed; the execution provider
    changes probabilities by float rounding alone, so outputs made on another device are reused."""
    tiling = resolve_tiling(model.info, options.settings)
    return {"model_sha256": sha256_of(model.path), "model_metadata": model.info.as_dict(),
            "threshold": options.threshold, "tile_size": tiling.tile,
            "tile_overlap": tiling.overlap, "temporal_filter": options.temporal_filter,
            "pairs": options.pairs, "lambda": options.lam, "site_reports": options.site_reports,
            **options.image_input.settings(), "min_area_ha": options.min_area_ha}


def _check_inputs(sites: Sequence[SiteSource], model: Model, options: SiteOptions) -> None:
    """The settings, every image header and the PAIRS of every site, before any site is mapped."""
    check_settings(options.threshold, options.min_area_ha, options.temporal_filter)
    mosaics = {p for s in sites if s.clip for p in s.clip.mosaics.items()}
    check_images(sorted(mosaics), model, options.image_input.bands)
    for site in sites:
        check_images(sorted(site.images.items()), model, options.image_input.bands)
        parse_pairs(options.pairs, site.years)


def check_target(target: Path) -> None:
    """OutputError when ``target`` exists but was not written by a many-site run (it is never replaced)."""
    if target.exists() and not has_manifest(target):
        raise OutputError(f"{target}: folder exists and was not written by a many-site run; "
                          "choose another OUTPUT_FOLDER or move it away")


def stage_site(site: SiteSource, model: Model, target: Path, options: SiteOptions,
               reporter: Reporter) -> tuple[Path, dict[str, Any]]:
    """Map one site into a new hidden staging folder beside ``target`` (removed again if mapping
    fails); the folder and the site's record, for commit_site. The executor's task runs this part."""
    staging = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        staging.mkdir()
        return staging, _map_site(site, model, staging, target, options, reporter)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def commit_site(staging: Path, job: SiteJob, record: dict[str, Any]) -> None:
    """Write the manifest into ``staging`` and move it onto the job's target (replacing an older
    run's folder); the staging folder is gone afterwards whatever happens."""
    target = job.target
    try:
        write_manifest(staging, job.made_from, record)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            shutil.rmtree(old)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftovers(target: Path) -> None:
    """Staging and replaced folders of this site left by an interrupted run."""
    for pattern in (f".{target.name}.partial-*", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def _map_site(site: SiteSource, model: Model, folder: Path, final: Path, options: SiteOptions,
              reporter: Reporter) -> dict[str, Any]:
    """Footprints, change layers and, where labelled, evaluation of one site into ``folder``
    (renamed to ``final`` afterwards); returns the site's figures with paths relative to it."""
    images = dict(site.images)
    if site.clip is not None:
        for year, mosaic in sorted(site.clip.mosaics.items()):
            reporter.check()
            images[year] = image_path(folder, year)
            images[year].parent.mkdir(exist_ok=True)
            clip_mosaic(mosaic, site.clip.geometry, site.clip.crs, images[year])
    years = sorted(images)
    mapped = map_footprints(sorted(images.items()), model, folder / "footprints", options.threshold,
                                  options.settings, reporter, temporal_filter=options.temporal_filter,
                                  image_input=options.image_input, min_area_ha=options.min_area_ha)
    footprints = {m.year: m.footprint for m in mapped}
    first_last = (years[0], years[-1]) if len(years) > 1 else None
    pairs = sorted(set(parse_pairs(options.pairs, years)) | ({first_last} if first_last else set()))
    # the footprints are filtered and sieved already (map_footprints)
    change = change_layers(sorted(footprints.items()), pairs, folder / "change", reporter.silent(),
                           temporal_filter="none", min_area_ha=0.0)
    record: dict[str, Any] = {
        "site": site.name, "split": split_of(site.name), "years": years,
        "area_ha": {str(m.year): m.mining_ha for m in mapped},
        "gain_ha": change.pairs[first_last].gain_ha if first_last else None,
        "loss_ha": change.pairs[first_last].loss_ha if first_last else None,
        "net_ha": change.pairs[first_last].net_ha if first_last else None,
        "footprints": {str(y): _relative(p, folder) for y, p in footprints.items()},
        "change": {f"{a}-{b}": _relative(p, folder) for (a, b), p in change.change.items()},
        "area_table": _relative(change.table, folder),
        "trajectory_raster": _relative(change.trajectory, folder),
        "trajectory": change.site.as_dict(),
        "evaluation": None,
    }
    labelled = [y for y in years if y in site.labels]
    if labelled:
        reporter.info(f"{site.name}: evaluating {len(labelled)} labelled year(s)")
        evaluation = evaluate_rasters({y: footprints[y] for y in labelled}, {y: site.labels[y] for y in labelled},
                                      parse_pairs(options.pairs, labelled), reporter.silent())
        write_table(evaluation.summary(options.lam), folder / "evaluation.csv")
        record["evaluation"] = {"table": "evaluation.csv", "report": None,
                                "summary": evaluation.counts.summary(options.lam)}
        if options.site_reports:
            # the report lists the predictions where they will be once the folder is in place
            finals = {y: final / _relative(p, folder) for y, p in evaluation.predictions.items()}
            write_report(replace(evaluation, predictions=finals), folder / "report.html", options.lam,
                         title=f"EuroMine evaluation — {site.name}")
            record["evaluation"]["report"] = "report.html"
    return record


def _relative(path: Path, folder: Path) -> str:
    return Path(path).relative_to(folder).as_posix()
