"""The EuroMine algorithms' result dicts, built from what the core returns: one builder per
algorithm, shared by the Processing algorithms (``algorithms/``) and the ``euromine`` command
(``cli/``), so that both hand back the same keys and values. The QGIS-only outputs (polygons drawn
by QGIS, the small-multiples PNG an algorithm adds itself) are added by their callers.

Plain Python: no QGIS, no onnxruntime import (a model is only read for its name and provider).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .maps.trajectory import SiteTrajectory

if TYPE_CHECKING:
    from .batch.sites import SiteOutcome, SitesResult
    from .engine.model import Model
    from .maps.bitemporal import ChangeDetection
    from .maps.change_layers import ChangeLayersResult
    from .maps.footprints import YearFootprint
    from .maps.preflight import RunCheck

OUTPUT_FOLDER = "OUTPUT_FOLDER"
DRY_RUN_REPORT = "DRY_RUN_REPORT"
# changelayers' per-pixel summary rasters, by result name
SUMMARY_RASTERS = ("FIRST_YEAR", "LAST_YEAR", "YEARS_ACTIVE", "TRANSITIONS")
# evaluation summary keys returned under these result names; the rest are upper-cased as they are
_EVALUATION_RENAMED = {"pairs": "CHANGE_PAIRS", "lambda": None, "predictions": None, "references": None}


def model_results(model: Model) -> dict[str, Any]:
    """The result entries that say which model ran, on which execution provider and device, at which precision."""
    return {"MODEL_NAME": model.info.name, "PROVIDER": model.provider, "DEVICE_NAME": model.device_name,
            "PRECISION": model.precision}


def footprint_results(out_dir: Path, results: Sequence[YearFootprint], model: Model) -> dict[str, Any]:
    """mapfootprints' result dict for the years ``map_footprints`` wrote into ``out_dir``."""
    return {
        OUTPUT_FOLDER: str(out_dir),
        "FOOTPRINTS": [str(r.footprint) for r in results],
        "AREA_HA": {str(r.year): r.mining_ha for r in results},
        "YEARS": [r.year for r in results],
        **model_results(model),
        "PROBABILITY_RASTERS": [str(r.probability) for r in results if r.probability],
    }


def pair_key(pair: tuple[int, int]) -> str:
    """The result-dict key of a pair of years, ``"2016-2017"``."""
    return f"{pair[0]}-{pair[1]}"


def trajectory_results(site: SiteTrajectory) -> dict[str, Any]:
    """A site's trajectory figures under their result-dict names."""
    return {"first_detected_year": site.first_year, "peak_year": site.peak_year, "peak_ha": site.peak_ha,
            "rate_ha_per_year": site.rate_ha_per_year, "rate_se_ha_per_year": site.rate_se_ha_per_year,
            "flicker_share": site.flicker_share}


def change_layers_results(result: ChangeLayersResult, out_dir: Path) -> dict[str, Any]:
    """changelayers' result dict for a ``change_layers`` result written into ``out_dir``."""
    summaries = (result.first_year, result.last_year, result.years_active, result.transitions)
    return {
        OUTPUT_FOLDER: str(out_dir),
        "YEARS": result.years,
        **{name: str(path) for name, path in zip(SUMMARY_RASTERS, summaries, strict=True)},
        "CHANGE": {pair_key(p): str(path) for p, path in result.change.items()},
        "AREA_HA": {str(y): ha for y, ha in result.area_ha.items()},
        "GAIN_HA": {pair_key(p): a.gain_ha for p, a in result.pairs.items()},
        "LOSS_HA": {pair_key(p): a.loss_ha for p, a in result.pairs.items()},
        "NET_HA": {pair_key(p): a.net_ha for p, a in result.pairs.items()},
        "AREA_TABLE": str(result.table),
        "TRAJECTORY": str(result.trajectory),
        "TRAJECTORY_SUMMARY": trajectory_results(result.site),
    }


def change_results(target: Path, result: ChangeDetection, before: Path, after: Path) -> dict[str, Any]:
    """detectchange's result dict for the change raster ``target`` made from ``before`` and ``after``."""
    return {"CHANGE": str(target), "METHOD": result.method, "GAIN_HA": result.gain_ha, "LOSS_HA": result.loss_ha,
            "NET_HA": result.net_ha, "BEFORE": str(before), "AFTER": str(after)}


def evaluation_results(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The result-dict entries of an evaluation summary (scoring.evaluation RasterEvaluation.summary)."""
    renamed = ((_EVALUATION_RENAMED.get(key, key.upper()), value) for key, value in summary.items())
    return {name: value for name, value in renamed if name is not None}


def site_results(outcome: SiteOutcome) -> dict[str, Any]:
    """One site's entry of mapsites' SITE_RESULTS, with absolute paths."""
    record = outcome.record
    evaluation = record.get("evaluation") or {}
    summary = evaluation.get("summary") or {}
    return {
        "folder": str(outcome.folder), "status": outcome.status, "years": record["years"],
        "area_ha": record["area_ha"], "gain_ha": record["gain_ha"], "loss_ha": record["loss_ha"],
        "footprints": [str(outcome.folder / p) for p in record["footprints"].values()],
        "change": {pair: str(outcome.folder / p) for pair, p in record["change"].items()},
        "area_table": str(outcome.folder / record["area_table"]),
        "trajectory": str(outcome.folder / record["trajectory_raster"]),
        **trajectory_results(SiteTrajectory(**record["trajectory"])),
        "evaluation_table": str(outcome.path(evaluation.get("table"))) if evaluation else None,
        "report": str(outcome.path(evaluation.get("report"))) if evaluation.get("report") else None,
        "ca_tiou": summary.get("ca_tiou"), "tiou": summary.get("tiou"), "ciou": summary.get("ciou"),
        "iou": summary.get("pooled", {}).get("iou"), "f1": summary.get("pooled", {}).get("f1"),
    }


def sites_results(out_dir: Path, result: SitesResult, model: Model) -> dict[str, Any]:
    """mapsites' result dict for a ``map_sites`` run into ``out_dir`` (without FOOTPRINT_POLYGONS,
    which only QGIS draws)."""
    return {
        OUTPUT_FOLDER: str(out_dir),
        "SUMMARY_TABLE": str(result.table),
        "SUMMARY_REPORT": str(result.report),
        "SITE_NAMES": [o.name for o in result.sites],
        "MAPPED": [o.name for o in result.sites if o.status == "mapped"],
        "REUSED": [o.name for o in result.sites if o.status == "reused"],
        "SITE_RESULTS": {o.name: site_results(o) for o in result.sites},
        "MICRO": result.pooled["micro"],
        "MACRO": result.pooled["macro"],
        **model_results(model),
    }


def dry_run_results(reports: Mapping[str, RunCheck], model: Model) -> dict[str, Any]:
    """DRY_RUN's result dict: DRY_RUN_REPORT, each pre-run check as plain values (RunCheck.as_dict),
    one report under the key "" as it is or one per site, and the model that was checked."""
    values = {name: report.as_dict() for name, report in reports.items()}
    return {DRY_RUN_REPORT: values[""] if list(values) == [""] else values, **model_results(model)}


def dry_run_lines(reports: Mapping[str, RunCheck]) -> Iterable[str]:
    """Each pre-run check's log lines, prefixed with its site's name where it has one."""
    for name, report in reports.items():
        for line in report.lines():
            yield f"{name}: {line}" if name else line
