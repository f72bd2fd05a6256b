"""The benchmark's leaderboard: leaderboard.csv, leaderboard.md and one self-contained
leaderboard.html with embedded plots, from the rows ``export.benchmark`` records per model.

Models are ranked within their task by the headline metric (CA-TIoU for footprint and series
models, change F1 over all pairs for change models); a model that failed is listed with its
error and no rank. Reference rows (``baseline``: the untrained spectral baseline) are listed
unranked after their task's models, and each task's table names the models below its bar:
footprint IoU for footprint and series models, change F1 over all pairs for change models.
A model trained on synthetic sites carries the synthetic label in every file.
"""
from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from euromine_qgis.core.engine.bundled import SYNTHETIC_LABEL
from euromine_qgis.core.io.outputs import atomic_outputs, write_csv
from euromine_qgis.core.scoring.metrics import INTERVAL_CLASSES
from euromine_qgis.core.scoring.report import STYLE, format_value

TASK_ORDER = ("footprint", "footprint_series", "change")
TASK_TITLES = {"footprint": "Footprint models (one year at a time)",
               "footprint_series": "Series models (all years at once)",
               "change": "Change models (pairs of years)"}
HEADLINE = {"footprint": "ca_tiou", "footprint_series": "ca_tiou", "change": "change_f1_all"}
FOOTPRINT_SCORES = ("oa", "precision", "recall", "f1", "iou", "tiou", "ciou", "ca_tiou")
CHANGE_SCORES = tuple(f"change_{m}_{k}" for k in (*INTERVAL_CLASSES, "all") for m in ("f1", "iou"))
COST = ("parameters", "gflops_160", "throughput_mpx_s", "device", "train_seconds")
COLUMNS = ("rank", "model", "architecture", "task", "status", "baseline", "synthetic_training", "trained_on",
           *FOOTPRINT_SCORES, *CHANGE_SCORES, *COST, "recipe", "epochs", "best_epoch", "source", "onnx", "onnx_opset",
           "sha256", "error")
HEADINGS = {"oa": "OA", "precision": "P", "recall": "R", "f1": "F1", "iou": "IoU", "tiou": "TIoU", "ciou": "CIoU",
            "ca_tiou": "CA-TIoU", "parameters": "Params (M)", "gflops_160": "GFLOPs/160²",
            "throughput_mpx_s": "Mpx/s", "device": "Device", "train_seconds": "Training (min)",
            "recipe": "Recipe (epochs × samples, lr)",
            **{f"change_{m}_{k}": f"{name} {k}"
               for k in (*INTERVAL_CLASSES, "all") for m, name in (("f1", "F1"), ("iou", "IoU"))}}
HEADLINE_TEXT = {"ca_tiou": "CA-TIoU", "change_f1_all": "change F1 over all pairs"}
SCORES_SHOWN = {"footprint": FOOTPRINT_SCORES, "footprint_series": FOOTPRINT_SCORES,
                "change": tuple(f"change_f1_{k}" for k in (*INTERVAL_CLASSES, "all")) + ("change_iou_all",)}
SYNTHETIC_MARK = "(synthetic)"
REFERENCE_MARK = "(reference)"
BAR = {"footprint": ("footprint", "iou"), "footprint_series": ("footprint", "iou"),
       "change": ("change", "change_f1_all")}
BAR_TEXT = {"iou": "footprint IoU", "change_f1_all": "change F1 over all pairs"}
COLOURS = {"footprint": "#3b75af", "footprint_series": "#519e3e", "change": "#ef8636"}


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` ordered by task, then by headline metric (best first; undefined after), with
    ``rank`` set within each task; failed models last, unranked."""
    out = []
    for task in TASK_ORDER:
        done = [r for r in rows if r["task"] == task and r["status"] == "ok" and not r.get("baseline")]
        done.sort(key=lambda r: (r.get(HEADLINE[task]) is None, -(r.get(HEADLINE[task]) or 0.0), r["model"]))
        out += [dict(r, rank=i) for i, r in enumerate(done, 1)]
        out += [dict(r, rank=None) for r in rows if r["task"] == task and r["status"] == "ok" and r.get("baseline")]
    failed = [dict(r, rank=None) for r in rows if r["status"] != "ok"]
    return out + sorted(failed, key=lambda r: r["model"])


def display_name(row: dict[str, Any]) -> str:
    """The model's name, marked when it was trained on synthetic sites or is a reference."""
    marks = [SYNTHETIC_MARK] * bool(row.get("synthetic_training")) + [REFERENCE_MARK] * bool(row.get("baseline"))
    return " ".join([row["model"], *marks])


def below_bar(rows: Sequence[dict[str, Any]], task: str) -> str | None:
    """The sentence naming ``task``'s ranked models below the reference row's bar (None without
    a reference row)."""
    bar_task, key = BAR[task]
    bar = next((r for r in rows if r.get("baseline") and r["task"] == bar_task and r["status"] == "ok"), None)
    if bar is None or bar.get(key) is None:
        return None
    below = [r["model"] for r in rows if r["task"] == task and r["status"] == "ok" and not r.get("baseline")
             and (r.get(key) is None or r[key] <= bar[key])]
    return (f"Bar: {bar['model']}'s {BAR_TEXT[key]}, {bar[key]:.4f}; "
            f"models at or below it: {', '.join(below) if below else 'none'}.")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _text(key: str, value: Any) -> str:
    """A figure as the Markdown and HTML tables show it."""
    if value is None:
        return "n/a"
    if key == "parameters":
        return f"{value / 1e6:.3g}"
    if key == "train_seconds":
        return f"{value / 60:.3g}"
    if key in ("gflops_160", "throughput_mpx_s"):
        return f"{value:.3g}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _table_columns(task: str) -> list[str]:
    return [*SCORES_SHOWN[task], *COST, "recipe"]


def markdown(rows: Sequence[dict[str, Any]], title: str) -> str:
    """The leaderboard as Markdown: one table per task, then failed models with their errors."""
    lines = [f"# {title}", ""]
    if any(r.get("synthetic_training") for r in rows):
        lines += [f"Models marked {SYNTHETIC_MARK} were {SYNTHETIC_LABEL}.", ""]
    for task in TASK_ORDER:
        done = [r for r in rows if r["task"] == task and r["status"] == "ok"]
        if not done:
            continue
        columns = _table_columns(task)
        lines += [f"## {TASK_TITLES[task]}", "", f"Ranked by {HEADLINE_TEXT[HEADLINE[task]]}.", "",
                  "| Rank | Model | " + " | ".join(HEADINGS[c] for c in columns) + " |",
                  "|---:|---|" + "---:|" * len(columns)]
        lines += [f"| {r['rank'] or 'ref'} | {display_name(r)} | " + " | ".join(_text(c, r.get(c)) for c in columns)
                  + " |" for r in done]
        lines.append("")
        if below_bar(rows, task):
            lines += [below_bar(rows, task), ""]
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["## Failed", ""] + [f"- {display_name(r)} ({r['task']}): {r['error']}" for r in failed] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _figure(n_models: int) -> tuple[Figure, Any]:
    fig = Figure(figsize=(max(5.6, 0.9 * n_models + 2), 3.4), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _value(row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    return math.nan if value is None else float(value)


def _grouped_bars(rows: Sequence[dict[str, Any]], keys: Sequence[str], title: str) -> str:
    """One group of bars per model, one bar per ``keys``; undefined scores are marked, not drawn as 0."""
    fig, ax = _figure(len(rows) * max(1, len(keys) // 2))
    x = np.arange(len(rows))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        heights = np.array([_value(r, key) for r in rows])
        bars = ax.bar(x + (i - (len(keys) - 1) / 2) * width, np.nan_to_num(heights), width, label=HEADINGS[key])
        for bar, h in zip(bars, heights, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, (0 if np.isnan(h) else h) + 0.02,
                    "n/a" if np.isnan(h) else f"{h:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [display_name(r) for r in rows], rotation=20, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    if len(keys) > 1:
        ax.legend(fontsize=8, ncols=len(keys))
    return _img(fig, title)


def _accuracy_vs_throughput(rows: Sequence[dict[str, Any]]) -> str:
    title = "Accuracy against throughput (headline metric of each task)"
    fig, ax = _figure(6)
    for task in TASK_ORDER:
        points = [r for r in rows if r["task"] == task and r.get("throughput_mpx_s")]
        if not points:
            continue
        xs = [r["throughput_mpx_s"] for r in points]
        ys = [_value(r, HEADLINE[task]) for r in points]
        ax.scatter(xs, np.nan_to_num(ys), color=COLOURS[task],
                   label=f"{TASK_TITLES[task].split(' (')[0]}: {HEADLINE_TEXT[HEADLINE[task]]}")
        for r, x, y in zip(points, xs, ys, strict=True):
            ax.annotate(display_name(r), (x, 0 if np.isnan(y) else y), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("throughput (Mpx/s, plugin engine)")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _img(fig, title)


def plots(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The page's plots as <img> tags: a bar chart per headline metric, CA-TIoU with its
    components, change F1 by interval class, accuracy against throughput."""
    done = [r for r in rows if r["status"] == "ok"]
    maps = [r for r in done if r["task"] != "change"]
    change = [r for r in done if r["task"] == "change"]
    images = []
    for key in ("iou", "f1", "ca_tiou"):
        if maps:
            images.append(_grouped_bars(maps, [key], f"{HEADINGS[key]} (pooled over test sites and years)"))
    if change:
        images.append(_grouped_bars(change, ["change_f1_all"], "Change F1 over all pairs of years"))
    if maps:
        images.append(_grouped_bars(maps, ["tiou", "ciou", "ca_tiou"], "CA-TIoU and its components"))
    if change:
        intervals = [f"change_f1_{k}" for k in INTERVAL_CLASSES]
        images.append(_grouped_bars(change, intervals, "Change F1 by interval class"))
    if done:
        images.append(_accuracy_vs_throughput(done))
    return images


def _html_table(rows: Sequence[dict[str, Any]], task: str) -> str:
    columns = _table_columns(task)
    head = "<tr><th>Rank</th><th>Model</th>" + "".join(f"<th>{html.escape(HEADINGS[c])}</th>" for c in columns)
    head += "</tr>"
    body = []
    for r in rows:
        cells = "".join(f"<td>{format_value(None) if r.get(c) is None else html.escape(_text(c, r[c]))}</td>"
                        for c in columns)
        body.append(f"<tr><td>{r['rank'] or 'ref'}</td><td>{html.escape(display_name(r))}</td>{cells}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _provenance(rows: Sequence[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("Model", "Architecture", "Trained on", "Source", "Best epoch",
                                               "ONNX sha256"))
    body = "".join(
        f"<tr><td>{html.escape(display_name(r))}</td><td>{html.escape(r.get('architecture') or '')}</td>"
        f"<td>{html.escape(r.get('trained_on') or '')}</td><td><code>{html.escape(r.get('source') or '')}</code></td>"
        f"<td>{_text('best_epoch', r.get('best_epoch'))}</td>"
        f"<td><code>{html.escape((r.get('sha256') or '')[:16])}</code></td></tr>"
        for r in rows if r["status"] == "ok")
    return f'<table class="inputs"><tr>{head}</tr>{body}</table>'


def render_html(rows: Sequence[dict[str, Any]], title: str, described: str) -> str:
    """The leaderboard page: the synthetic label where it applies, one table per task, the
    plots, each model's provenance and the failures."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}.synthetic{{background:#fff3cd;border:1px solid #d6b656;padding:.5em 1em}}</style>",
             f"</head><body><h1>{html.escape(title)}</h1><p class='meta'>{html.escape(described)}</p>"]
    if any(r.get("synthetic_training") for r in rows):
        parts.append(f"<p class='synthetic'>Models marked {SYNTHETIC_MARK} were {html.escape(SYNTHETIC_LABEL)}.</p>")
    for task in TASK_ORDER:
        done = [r for r in rows if r["task"] == task and r["status"] == "ok"]
        if done:
            parts.append(f"<h2>{html.escape(TASK_TITLES[task])}</h2>{_html_table(done, task)}")
            if below_bar(rows, task):
                parts.append(f"<p>{html.escape(below_bar(rows, task))}</p>")
    parts.append("<h2>Plots</h2><div class='plots'>" + "".join(plots(rows)) + "</div>")
    parts.append("<h2>Provenance</h2>" + _provenance(rows))
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        parts.append("<h2>Failed</h2><ul>" + "".join(
            f"<li>{html.escape(display_name(r))} ({html.escape(r['task'])}): {html.escape(r['error'])}</li>"
            for r in failed) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_leaderboard(rows: Sequence[dict[str, Any]], out: Path, title: str, described: str) -> list[Path]:
    """Write leaderboard.csv, leaderboard.md and leaderboard.html into ``out`` (all or none)."""
    rows = ranked(rows)
    targets = [out / "leaderboard.csv", out / "leaderboard.md", out / "leaderboard.html"]
    with atomic_outputs(targets) as (csv_path, md_path, html_path):
        write_csv(csv_path, COLUMNS, [[_csv_cell(r.get(c)) for c in COLUMNS] for r in rows])
        md_path.write_text(markdown(rows, title), encoding="utf-8")
        html_path.write_text(render_html(rows, title, described), encoding="utf-8")
    return targets
