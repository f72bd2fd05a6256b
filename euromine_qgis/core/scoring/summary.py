"""The summary of a many-site run: one CSV row per site and one HTML page, with the scores
pooled over the labelled sites (micro) and averaged per site (macro), and each site's mining
trajectory (maps.trajectory): its figures and a small plot of its mined area per year."""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io.outputs import atomic_outputs, write_csv
from .figures import new_figure
from .metrics import Counts, PairChange, SeriesCounts, TransitionCounts, aggregate_sites
from .report import STYLE, _img, _png, format_value

SCORES = ("ca_tiou", "tiou", "ciou", "iou", "f1")
SCORE_NAMES = {"ca_tiou": "CA-TIoU", "tiou": "TIoU", "ciou": "CIoU", "iou": "IoU", "f1": "F1"}
COLUMNS = ("row", "site", "split", "status", "first_year", "last_year", "area_first_ha", "area_last_ha",
           "gain_ha", "loss_ha", "net_ha", "labelled_years", "sites", *SCORES)
TRAJECTORY_COLUMNS = ("first_detected_year", "peak_year", "peak_ha", "rate_ha_per_year", "rate_se_ha_per_year",
                      "flicker_share")


def series_counts_from_summary(summary: Mapping[str, Any]) -> SeriesCounts:
    """Rebuild the counts of a site from ``SeriesCounts.summary()`` (as kept in its manifest)."""
    per_year = {int(y): Counts(f["tp"], f["fp"], f["fn"], f["tn"]) for y, f in summary["per_year"].items()}
    t = summary["transitions"]
    pairs = {}
    for key, f in summary["pairs"].items():
        a, b = (int(v) for v in key.split("-"))
        pairs[(a, b)] = PairChange(Counts(f["tp"], f["fp"], f["fn"], f["tn"]), f["reference_gain"],
                                   f["reference_loss"], f["predicted_gain"], f["predicted_loss"], f["pairs"])
    return SeriesCounts(per_year, TransitionCounts(t["ctp"], t["cfp"], t["cfn"]), pairs)


def site_row(record: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The summary row of one site from its recorded result."""
    years = record["years"]
    area = record["area_ha"]
    evaluation = record.get("evaluation")
    row = {"row": "site", "site": record["site"], "split": record["split"], "status": status,
           "first_year": years[0], "last_year": years[-1], "area_first_ha": area[str(years[0])],
           "area_last_ha": area[str(years[-1])], "gain_ha": record["gain_ha"], "loss_ha": record["loss_ha"],
           "net_ha": record["net_ha"]}
    trajectory = record.get("trajectory") or {}
    row.update(first_detected_year=trajectory.get("first_year"), peak_year=trajectory.get("peak_year"),
               peak_ha=trajectory.get("peak_ha"), rate_ha_per_year=trajectory.get("rate_ha_per_year"),
               rate_se_ha_per_year=trajectory.get("rate_se_ha_per_year"),
               flicker_share=trajectory.get("flicker_share"),
               area_series={int(y): a for y, a in record["area_ha"].items() if int(y) in trajectory.get("years", ())})
    if evaluation:
        summary = evaluation["summary"]
        row.update(labelled_years=len(summary["years"]), ca_tiou=summary["ca_tiou"], tiou=summary["tiou"],
                   ciou=summary["ciou"], iou=summary["pooled"]["iou"], f1=summary["pooled"]["f1"])
    return row


def aggregate(records: Sequence[Mapping[str, Any]], lam: float) -> dict[str, Any]:
    """Micro and macro scores over the labelled sites (core.metrics.aggregate_sites)."""
    counts = {r["site"]: series_counts_from_summary(r["evaluation"]["summary"]) for r in records if r.get("evaluation")}
    return aggregate_sites(counts, lam)


def pooled_rows(pooled: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The micro and macro rows of the CSV; ``sites`` is the number of sites behind CA-TIoU."""
    micro, macro = pooled["micro"], pooled["macro"]
    return [{"row": "micro", "site": "all labelled sites pooled", "sites": micro["sites"],
             **{s: micro.get(s) for s in SCORES}},
            {"row": "macro", "site": "mean of the sites' own scores",
             "sites": macro.get("ca_tiou", {}).get("sites", 0),
             **{s: macro.get(s, {}).get("value") for s in SCORES}}]


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def write_summary_table(rows: Sequence[Mapping[str, Any]], pooled: Mapping[str, Any], path: Path) -> Path:
    """CSV: one row per site, then the micro and macro rows; undefined scores are empty cells."""
    columns = (*COLUMNS, *TRAJECTORY_COLUMNS)
    with atomic_outputs([Path(path)]) as (temp,):
        write_csv(temp, columns, [[_cell(row.get(c)) for c in columns] for row in [*rows, *pooled_rows(pooled)]])
    return Path(path)


def trajectory_plot(series: Mapping[int, float], slope: float | None) -> str:
    """A small PNG (base64) of mined hectares per year with the least-squares line."""
    years, areas = list(series), list(series.values())
    fig = new_figure(figsize=(3.2, 1.4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(years, areas, marker="o", markersize=3, color="#c0392b")
    if slope is not None:
        mean_year, mean_area = sum(years) / len(years), sum(areas) / len(areas)
        ax.plot(years, [mean_area + slope * (y - mean_year) for y in years], color="#555", linewidth=0.8,
                linestyle="--")
    ax.set_ylabel("ha", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_xticks(years[:: max(1, len(years) // 5)])
    ax.grid(alpha=0.3)
    return _png(fig)


def trajectory_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The HTML rows of the trajectory table: each site's figures and its area plot."""
    body = ("<tr><th>site</th><th>first detected</th><th>peak year</th><th>peak (ha)</th>"
            "<th>rate (ha/yr)</th><th>flicker share</th><th>mined area per year</th></tr>")
    for r in rows:
        rate = format_value(r["rate_ha_per_year"], 3)
        if r["rate_se_ha_per_year"] is not None:
            rate += f" ± {format_value(r['rate_se_ha_per_year'], 3)}"
        plot = (_img(trajectory_plot(r["area_series"], r["rate_ha_per_year"]), f"{r['site']} mined area per year")
                if r["area_series"] else "")
        body += (f"<tr><td>{html.escape(r['site'])}</td><td>{r['first_detected_year'] or '–'}</td>"
                 f"<td>{r['peak_year'] or '–'}</td><td>{format_value(r['peak_ha'], 2)}</td><td>{rate}</td>"
                 f"<td>{format_value(r['flicker_share'], 3)}</td><td>{plot}</td></tr>")
    return body


def write_summary_report(rows: Sequence[Mapping[str, Any]], pooled: Mapping[str, Any], reports: Mapping[str, str],
                         path: Path, note: str) -> Path:
    """One self-contained HTML page: pooled cards, the site table (each site linked to its own
    report where it has one, ``reports[site]`` relative to ``path``) and ``note`` (model, λ)."""
    micro, macro = pooled["micro"], pooled["macro"]
    cards = "".join(
        f'<div class="card{" main" if s == "ca_tiou" else ""}"><div>{SCORE_NAMES[s]}</div>'
        f'<div class="v">{format_value(micro.get(s))}</div><div class="meta">micro, {micro["sites"]} site(s)</div>'
        f'<div class="v">{format_value(macro.get(s, {}).get("value"))}</div>'
        f'<div class="meta">macro, {macro.get(s, {}).get("sites", 0)} site(s)</div></div>' for s in SCORES)
    header = ("<tr><th>site</th><th>split</th><th>status</th><th>years</th><th>area first (ha)</th>"
              "<th>area last (ha)</th><th>gain (ha)</th><th>loss (ha)</th><th>net (ha)</th>"
              + "".join(f"<th>{SCORE_NAMES[s]}</th>" for s in SCORES) + "</tr>")
    body = ""
    for r in rows:
        name = html.escape(r["site"])
        link = f'<a href="{html.escape(reports[r["site"]])}">{name}</a>' if r["site"] in reports else name
        body += (f"<tr><td>{link}</td><td>{html.escape(r['split'])}</td><td>{r['status']}</td>"
                 f"<td>{r['first_year']}–{r['last_year']}</td>"
                 + "".join(f"<td>{format_value(r[k], 2)}</td>" for k in
                           ("area_first_ha", "area_last_ha", "gain_ha", "loss_ha", "net_ha"))
                 + "".join(f"<td>{format_value(r.get(s))}</td>" for s in SCORES) + "</tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>EuroMine sites</title><style>{STYLE}</style></head>
<body>
<h1>EuroMine sites</h1>
<p class="meta">{len(rows)} site(s) · {html.escape(note)}. Gain and loss run from each site's first to its last
year over the pixels valid in both, and net = gain − loss (docs/metrics.md), so net differs from last − first
area where nodata differs between the two years. Scores need labels: micro pools the counts of every labelled site,
macro averages the sites' own scores
(undefined ones left out); <span class="na">n/a</span> marks an undefined ratio.</p>
<h2>Scores over the labelled sites</h2>
<div class="cards">{cards}</div>
<h2>Sites</h2>
<table>{header}{body}</table>
<h2>Mining trajectories</h2>
<p class="meta">Mined area per year over the years with valid pixels, with the least-squares trend. Rate = its
slope ± standard error; flicker = share of the area ever mined whose pixels switched more than once (noise more
likely than change); the TRAJECTORY raster in each site's change folder maps it per pixel.</p>
<table>{trajectory_table(rows)}</table>
</body></html>
"""
    with atomic_outputs([Path(path)]) as (temp,):
        temp.write_text(page, encoding="utf-8")
    return Path(path)
