"""The committed benchmark table on generated sites (docs/benchmark-synthetic.md and its HTML page):
every registered architecture listed with its figures, none at or below the spectral baseline, and
labelled as synthetic wherever it is shown."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from export import architectures
from export.leaderboard import SYNTHETIC_LABEL, SYNTHETIC_MARK

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCORED = {"footprint": ("IoU", "CA-TIoU"), "footprint_series": ("IoU", "CA-TIoU"), "change": ("F1 all", "IoU all")}
COST = ("Params (M)", "GFLOPs/160²", "Mpx/s", "Training (min)")


def tables(text: str) -> dict[str, dict[str, str]]:
    """Every ranked table row of the Markdown page as {model: {heading: cell}}."""
    rows, headings = {}, None
    for line in text.splitlines():
        if line.startswith("| Rank |"):
            headings = [cell.strip() for cell in line.strip("|").split("|")]
        elif headings and line.startswith("|") and not line.startswith("|---"):
            cells = dict(zip(headings, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
            rows[cells["Model"]] = cells
        elif not line.startswith("|"):
            headings = None
    return rows


def test_every_architecture_has_its_figures_and_beats_the_bar():
    text = (DOCS / "benchmark-synthetic.md").read_text(encoding="utf-8")
    rows = tables(text)
    for name, arch in architectures.ARCHITECTURES.items():
        row = rows[f"{name} {SYNTHETIC_MARK}"]
        assert row["Rank"].isdigit(), name
        for heading in (*SCORED[arch.task], *COST):
            assert float(row[heading]) > 0, (name, heading)
    bars = [line for line in text.splitlines() if line.startswith("Bar: ")]
    assert len(bars) == 3 and all(line.endswith("models at or below it: none.") for line in bars)
    assert text.startswith("# EuroMine benchmark on generated sites (synthetic data)")


def test_the_html_page_is_the_same_run_and_labelled():
    page = (DOCS / "benchmark-synthetic.html").read_text(encoding="utf-8")
    assert SYNTHETIC_LABEL in page
    markdown_rows = tables((DOCS / "benchmark-synthetic.md").read_text(encoding="utf-8"))
    for model, row in markdown_rows.items():
        assert f"<td>{model}</td>" in page, model
        assert row["Params (M)"] in page
