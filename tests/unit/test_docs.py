"""The front door and the manual: README.md stays short and links only to files that exist, and the
figures the docs' hand-written pages quote agree with where they come from (models.json, the
committed benchmark table). The site itself is built strictly by `make docs`, which `make test` runs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from euromine_qgis.core.engine.bundled import bundled_models

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
MODELS = {m.name: m for m in bundled_models()}


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def one_line(text: str) -> str:
    """A page's text with its line breaks as spaces, so a phrase wrapped over lines still matches."""
    return " ".join(text.split())


def test_the_readme_is_a_front_door():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    commands = re.search(r"```bash\n(.*?)```", text[text.index("## The first run"):], re.DOTALL).group(1)
    assert re.search(r"^make demo\b", commands, re.M) and re.search(r"^make test\b", commands, re.M)
    for target in ("LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "docs/qgis_toolbox.png"):
        assert f"]({target})" in text, target


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_every_link_of_the_root_pages_exists(name):
    links = [link for link in LINK.findall((REPO / name).read_text(encoding="utf-8")) if "://" not in link]
    assert links
    assert [link for link in links if not (REPO / link).exists()] == []


def test_the_tiling_figures_are_the_bundled_models():
    """The receptive fields and alignments quoted where the docs explain the tiling and the Deepness
    comparison are those models.json records (and the overlap 2 × field + 1 follows from them)."""
    fields = {name: m.provenance.receptive_field for name, m in MODELS.items()}
    unet, utae, change, baseline = (fields[n] for n in ("unet_footprint", "utae_series", "fc_siam_diff_change",
                                                         "spectral_baseline"))
    tiling = one_line(page("user-guide/how-maps-are-made.md"))
    assert (f"{unet.alignment} px for the U-Net and U-TAE, {change.alignment} for FC-Siam-diff, "
            f"{baseline.alignment} for the spectral baseline") in tiling
    assert unet.alignment == utae.alignment
    performance = one_line(page("performance.md"))
    assert f"overlapping by {2 * unet.receptive_field + 1} px" in performance
    assert f"the U-Net's receptive field ({unet.receptive_field} px)" in performance


def test_the_minimum_mapping_unit_table_starts_from_the_models_metrics():
    """MIN_AREA_HA 0 keeps every patch, so its row is unet_footprint's held-out metrics in models.json."""
    row = re.search(r"^\| 0 \| (.+) \|$", page("user-guide/how-maps-are-made.md"), re.M).group(1)
    metrics = MODELS["unet_footprint"].metrics
    expected = [f"{metrics['micro'][k]:.4f} ({metrics['macro'][k]:.4f})" for k in ("ca_tiou", "tiou", "ciou")]
    assert [cell.strip() for cell in row.split("|")] == expected


def _ranked(text: str, score: str) -> tuple[list[float], float]:
    """The ranked models' and the reference's ``score`` over every table of the benchmark page that has it."""
    ranked, reference = [], None
    headings: list[str] = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| Rank |"):
            headings = cells
        elif headings and line.startswith("|") and not line.startswith("|---") and score in headings:
            value = float(cells[headings.index(score)])
            if cells[0] == "ref":
                reference = value
            else:
                ranked.append(value)
        elif not line.startswith("|"):
            headings = []
    assert reference is not None
    return ranked, reference


def test_the_benchmark_page_quotes_the_committed_table():
    table = page("benchmark-synthetic.md")
    ious, iou_bar = _ranked(table, "IoU")  # the footprint and series tables (change models have "IoU all")
    f1s, f1_bar = _ranked(table, "F1 all")
    text = one_line(page("benchmark.md"))
    assert f"ranks all {len(ious) + len(f1s)} registered architectures" in text
    assert (f"footprint IoU {min(ious):.2f}–{max(ious):.2f} against {iou_bar:.2f}; "
            f"change F1 {min(f1s):.2f}–{max(f1s):.2f} against {f1_bar:.2f}") in text
