"""The evaluation as a CSV table and as one self-contained HTML report with embedded PNG plots."""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import OutputError
from ..io.outputs import atomic_outputs, write_csv
from .evaluation import FN, FP, NODATA, TN, TP, RasterEvaluation
from .figures import colormap, new_figure, print_png
from .metrics import INTERVAL_CLASSES
from .small_multiples import MINING as FOOTPRINT_MINING
from .small_multiples import NODATA as FOOTPRINT_NODATA
from .small_multiples import small_multiples_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCORE_COLUMNS = ("oa", "precision", "recall", "f1", "iou")
COUNT_COLUMNS = ("tp", "fp", "fn", "tn")
HEADINGS = {"tp": "TP", "fp": "FP", "fn": "FN", "tn": "TN", "oa": "OA", "precision": "Precision",
            "recall": "Recall", "f1": "F1", "iou": "IoU"}
PANEL_COLOURS = {TN: "#f7f7f7", FP: "#d7301f", FN: "#2c7fb8", TP: "#404040", NODATA: "#e8dcb5"}
PANEL_LABELS = {TP: "mining in both", FP: "false positive (predicted only)",
                FN: "false negative (reference only)", TN: "not mining in both", NODATA: "nodata"}


def table_columns(unit: str) -> list[str]:
    """Header of the CSV table; areas are in ``unit`` (ha, or pixels without a CRS)."""
    return ["section", "name", *COUNT_COLUMNS, *SCORE_COLUMNS, "score",
            f"mapped_area_{unit}", f"reference_area_{unit}", "pairs"]


def table_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the CSV table from RasterEvaluation.summary(): per year, pooled, the three
    temporal scores, and change per interval class (undefined values stay None)."""
    rows = []
    unit = summary["area_unit"]
    for year, figures in summary["per_year"].items():
        rows.append({"section": "year", "name": year, **figures,
                     f"mapped_area_{unit}": figures["mapped_area"],
                     f"reference_area_{unit}": figures["reference_area"]})
    per_year = summary["per_year"].values()
    rows.append({"section": "pooled", "name": "all years", **summary["pooled"],
                 f"mapped_area_{unit}": sum(f["mapped_area"] for f in per_year),
                 f"reference_area_{unit}": sum(f["reference_area"] for f in per_year)})
    pooled, transitions = summary["pooled"], summary["transitions"]
    rows.append({"section": "temporal", "name": "TIoU", "tp": pooled["tp"], "fp": pooled["fp"],
                 "fn": pooled["fn"], "score": summary["tiou"]})
    rows.append({"section": "temporal", "name": "CIoU", "tp": transitions["ctp"], "fp": transitions["cfp"],
                 "fn": transitions["cfn"], "score": summary["ciou"]})
    rows.append({"section": "temporal", "name": f"CA-TIoU (lambda={summary['lambda']:g})",
                 "score": summary["ca_tiou"]})
    for name, figures in summary["change"].items():
        rows.append({"section": "change", "name": name, **figures})
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def write_table(summary: dict[str, Any], path: Path) -> Path:
    """Write the CSV table atomically; undefined ratios are empty cells."""
    columns = table_columns(summary["area_unit"])
    with atomic_outputs([Path(path)]) as (temp,):
        write_csv(temp, columns, [[_cell(row.get(c)) for c in columns] for row in table_rows(summary)])
    return Path(path)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    print_png(fig, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _values(values: Iterable[float | None]) -> NDArray[np.float64]:
    """Scores as floats with NaN for undefined, so plots leave a gap rather than a fake 0."""
    return np.array([np.nan if v is None else v for v in values], float)


def _scores_plot(summary: dict[str, Any]) -> str:
    years = [int(y) for y in summary["per_year"]]
    fig = new_figure(figsize=(6.4, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for name, label, marker in (("iou", "IoU", "o"), ("f1", "F1", "s")):
        ax.plot(years, _values(f[name] for f in summary["per_year"].values()), marker=marker, label=label)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(years)
    ax.set_xlabel("year")
    ax.set_ylabel("score")
    ax.set_title("IoU and F1 per year")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def _area_plot(summary: dict[str, Any]) -> str:
    years = np.array([int(y) for y in summary["per_year"]])
    mapped = [f["mapped_area"] for f in summary["per_year"].values()]
    reference = [f["reference_area"] for f in summary["per_year"].values()]
    fig = new_figure(figsize=(6.4, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.bar(years - 0.2, reference, width=0.4, label="reference", color=PANEL_COLOURS[FN])
    ax.bar(years + 0.2, mapped, width=0.4, label="mapped", color=PANEL_COLOURS[FP])
    ax.set_xticks(years)
    ax.set_xlabel("year")
    ax.set_ylabel(f"mining area ({summary['area_unit']})")
    ax.set_title("Mapped vs reference mining area (valid pixels)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return _png(fig)


def _bar_plot(labels: list[str], values: list[float | None], title: str, colour: str) -> str:
    fig = new_figure(figsize=(6.4, 3.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    heights = _values(values)
    x = np.arange(len(labels))
    ax.bar(x, np.nan_to_num(heights), color=colour)
    for xi, value in zip(x, heights, strict=True):
        ax.text(xi, (0 if np.isnan(value) else value) + 0.02, "undefined" if np.isnan(value) else f"{value:.3f}",
                ha="center", va="bottom")
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1.15)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def _panel(preview: NDArray[np.uint8], title: str) -> str:
    colours = colormap([PANEL_COLOURS[code] for code in (TN, FP, FN, TP, NODATA)])
    height, width = preview.shape
    scale = 2.6 / max(height, width)
    fig = new_figure(figsize=(max(1.2, width * scale), max(1.2, height * scale) + 0.35), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(preview, cmap=colours, vmin=-0.5, vmax=4.5, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(fig)


def _footprints_by_year(previews: dict[int, NDArray[np.uint8]]) -> str:
    """The predicted footprints of the evaluation's panels as small multiples (core/scoring/small_multiples)."""
    panels = {y: np.where(p == NODATA, FOOTPRINT_NODATA, np.isin(p, (FP, TP)) * FOOTPRINT_MINING)
              for y, p in previews.items()}
    return _png(small_multiples_figure(panels))


def format_value(value: float | int | None, digits: int = 4) -> str:
    """A figure for HTML: "n/a" for an undefined ratio, 4 decimals for floats, thousands for counts."""
    if value is None:
        return '<span class="na" title="undefined: zero denominator">n/a</span>'
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}"


def _img(data: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1150px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#555} .cards{display:flex;flex-wrap:wrap;gap:.8em}
.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:8em;background:#fafafa}
.card .v{font-size:1.6em;font-weight:bold} .card.main{background:#eef5ea;border-color:#7a9}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left} .na{color:#999}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:.6em}
.plots img{width:100%;border:1px solid #eee}
.panels{display:flex;flex-wrap:wrap;gap:.5em} .panels img{border:1px solid #ddd}
.legend span{display:inline-block;width:1em;height:1em;border:1px solid #999;vertical-align:middle;margin:0 .3em 0 1em}
code{font-size:.85em} table.inputs td{text-align:left}
"""


def render_html(evaluation: RasterEvaluation, lam: float, title: str = "EuroMine evaluation") -> str:
    """The report as one HTML string: summary numbers, per-year table, plots and map panels."""
    s = evaluation.summary(lam)
    pooled, change = s["pooled"], s["change"]
    height, width = evaluation.shape
    cards = [("CA-TIoU", s["ca_tiou"], f"λ = {lam:g}", True), ("TIoU", s["tiou"], "footprint term", False),
             ("CIoU", s["ciou"], "transition term", False), ("IoU", pooled["iou"], "pooled", False),
             ("F1", pooled["f1"], "pooled", False), ("Precision", pooled["precision"], "pooled", False),
             ("Recall", pooled["recall"], "pooled", False), ("OA", pooled["oa"], "pooled", False)]
    cards += [(f"Change F1 {k}", change[k]["f1"], f"{change[k]['pairs']} pair(s)", False)
              for k in INTERVAL_CLASSES if k in change]
    card_html = "".join(
        f'<div class="card{" main" if main else ""}"><div>{name}</div><div class="v">{format_value(v)}</div>'
        f'<div class="meta">{html.escape(note)}</div></div>' for name, v, note, main in cards)

    unit = s["area_unit"]
    columns = (*COUNT_COLUMNS, *SCORE_COLUMNS)
    year_rows = "".join(
        f"<tr><td>{y}</td>" + "".join(f"<td>{format_value(f[c])}</td>" for c in columns)
        + f"<td>{format_value(f['mapped_area'], 2)}</td><td>{format_value(f['reference_area'], 2)}</td></tr>"
        for y, f in s["per_year"].items())
    pooled_row = ("<tr><th>pooled</th>" + "".join(f"<th>{format_value(pooled[c])}</th>" for c in columns)
                  + "<th></th><th></th></tr>")
    header = "".join(f"<th>{HEADINGS.get(c, c)}</th>"
                     for c in ("year", *columns, f"mapped ({unit})", f"reference ({unit})"))
    change_rows = "".join(
        f"<tr><td>{k}</td><td>{f['pairs']}</td>" + "".join(f"<td>{format_value(f[c])}</td>" for c in columns)
        + f"<td>{format_value(f['reference_gain'])} / {format_value(f['reference_loss'])}</td>"
        f"<td>{format_value(f['predicted_gain'])} / {format_value(f['predicted_loss'])}</td></tr>"
        for k, f in change.items())
    change_html = (
        "<table><tr><th>interval</th><th>pairs</th>" + "".join(f"<th>{HEADINGS[c]}</th>" for c in columns)
        + "<th>reference gain / loss</th><th>predicted gain / loss</th></tr>" + change_rows + "</table>"
        if change else "<p>No change evaluation was asked for (PAIRS empty).</p>")

    t = s["transitions"]
    plots = [_img(_scores_plot(s), "IoU and F1 per year"), _img(_area_plot(s), "Mapped vs reference area"),
             _img(_bar_plot(["TIoU", "CIoU", f"CA-TIoU (λ={lam:g})"], [s["tiou"], s["ciou"], s["ca_tiou"]],
                            "CA-TIoU and its components", "#5b8e4a"), "CA-TIoU components")]
    classes = [k for k in INTERVAL_CLASSES if k in change]
    if classes:
        plots.append(_img(_bar_plot(classes, [change[k]["f1"] for k in classes], "Change F1 by interval length",
                                    "#7b5ea7"), "Change F1 by interval length"))
    panels = "".join(
        _img(_panel(evaluation.previews[y], f"{y}  IoU {_plain(s['per_year'][str(y)]['iou'])}"), f"map {y}")
        for y in evaluation.years)
    legend = "".join(f'<span style="background:{PANEL_COLOURS[c]}"></span>{PANEL_LABELS[c]}'
                     for c in (TP, FP, FN, TN, NODATA))
    inputs = "".join(f"<tr><td>{y}</td><td><code>{html.escape(str(evaluation.predictions[y]))}</code></td>"
                     f"<td><code>{html.escape(str(evaluation.references[y]))}</code></td></tr>"
                     for y in evaluation.years)
    years = evaluation.years
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{len(years)} year(s) {years[0]}–{years[-1]} · grid {width} × {height} px · λ = {lam:g} ·
{len(s['pairs'])} change pair(s). Metrics follow the plugin's docs/metrics.md; <span class="na">n/a</span> marks an
undefined ratio (zero denominator), never counted as 0 or 1.</p>
<h2>Summary</h2>
<div class="cards">{card_html}</div>
<p class="meta">CA-TIoU = (1 − λ)·TIoU + λ·CIoU (TIoU alone when CIoU is undefined). TIoU pools TP/FP/FN over the
years ({pooled['tp']:,} / {pooled['fp']:,} / {pooled['fn']:,}); CIoU scores gains and losses between consecutive
selected years (CTP {t['ctp']:,}, CFP {t['cfp']:,}, CFN {t['cfn']:,}).</p>
<h2>Per year</h2>
<table><tr>{header}</tr>{year_rows}{pooled_row}</table>
<h2>Change between years</h2>
{change_html}
<h2>Plots</h2>
<div class="plots">{''.join(plots)}</div>
<h2>Footprints over the years</h2>
{_img(_footprints_by_year(evaluation.previews), "mapped footprint per year")}
<h2>Maps</h2>
<p class="legend">{legend}</p>
<div class="panels">{panels}</div>
<h2>Inputs</h2>
<table class="inputs"><tr><th>year</th><th>prediction</th><th>reference</th></tr>{inputs}</table>
</body></html>
"""


def _plain(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_report(evaluation: RasterEvaluation, path: Path, lam: float,
                 title: str = "EuroMine evaluation") -> Path:
    """Write the self-contained HTML report atomically."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"{path}: the report must be an .html file")
    page = render_html(evaluation, lam, title)
    with atomic_outputs([path]) as (temp,):
        temp.write_text(page, encoding="utf-8")
    return path
