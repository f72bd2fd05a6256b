"""The help pages and reference pages generated from the specs: the HTML each Processing
algorithm shows as its help, and the Markdown of the documentation's algorithm reference."""
from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ..engine.bundled import bundled_models
from ..errors import ModelError
from .params import has_dry_run
from .spec import CLI, DESTINATIONS, QGIS, AlgorithmSpec, Kind, Param

TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """``text`` without its HTML tags and entities (the command's help)."""
    return html.unescape(TAG.sub("", text))


def sentence(text: str) -> str:
    """``text`` with its first letter upper-cased (a help text starts lower-case after its label)."""
    return text[:1].upper() + text[1:]


def default_text(p: Param) -> str:
    """A parameter's default as the help shows it, or "" when it has none worth showing."""
    if p.kind in DESTINATIONS:
        return "a temporary one in QGIS" if p.temporary else ""
    if p.default is None or p.default == "":
        return ""
    if p.kind is Kind.FLAG:
        return "yes" if p.default else "no"
    return f"{p.default:g}" if isinstance(p.default, float) else str(p.default)


def _where(p: Param) -> str:
    notes = [] if p.surfaces == frozenset({QGIS, CLI}) else ["QGIS only" if QGIS in p.surfaces else "command only"]
    if p.advanced:
        notes.append("advanced")
    if p.optional and p.kind not in DESTINATIONS:
        notes.append("optional")
    return ", ".join(notes)


def bundled_models_html() -> str:
    """The bundled models, labelled, as the items of an HTML list."""
    try:
        return "".join(f"<li><b>{m.name}</b>: {html.escape(m.label)}</li>" for m in bundled_models())
    except ModelError as exc:
        return f"<li>{html.escape(str(exc))}</li>"


def help_html(spec: AlgorithmSpec) -> str:
    """The help page of ``spec`` (QGIS's shortHelpString): description, one item per parameter QGIS
    shows, the bundled models where a model is chosen, the measured advice, results and example."""
    items = []
    for p in spec.on(QGIS):
        facts = "; ".join(f for f in (_where(p), f"default {default_text(p)}" if default_text(p) else "") if f)
        items.append(f"<li><b>{p.name}</b> — {p.label}{f' ({facts})' if facts else ''}."
                     + (f" {sentence(p.help)}" if p.help else "") + "</li>")
    parts = [spec.description, "<p>Parameters:</p><ul>" + "".join(items) + "</ul>"]
    if any(p.kind is Kind.MODEL for p in spec.params):
        parts.append("<p>Bundled models:</p><ul>" + bundled_models_html() + "</ul>")
    if spec.measured is not None:
        parts.append(spec.measured())
    if spec.results:
        parts.append(f"<p>Results: {spec.results}</p>")
    if spec.example:
        parts.append(f"<p>Example: <code>{html.escape(spec.example, quote=False)}</code></p>")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_page(spec: AlgorithmSpec) -> str:
    """The reference page of ``spec``: where it runs, its parameters (name, flag, kind, default, label)
    with their help, its results and an example."""
    where = []
    if QGIS in spec.surfaces:
        where.append(f"Processing: `euromine:{spec.id}` ({spec.group})")
    if CLI in spec.surfaces:
        where.append(f"command: `euromine {spec.id}`" + (f", `euromine check {spec.id}`" if has_dry_run(spec) else ""))
    lines = [f"# {spec.title}", "", f"{spec.summary[:1].upper()}{spec.summary[1:]}.", "", "; ".join(where) + ".", "",
             spec.description, ""]
    if spec.params:
        lines += ["## Parameters", "", "| Name | Flag | Kind | Default | Label |", "|---|---|---|---|---|"]
        for p in spec.params:
            if not p.surfaces:
                continue  # filled in by a surface itself
            flag = f"`{p.flag}`" if CLI in p.surfaces else "QGIS only"
            label = p.label + (f" ({_where(p)})" if _where(p) else "")
            lines.append(f"| `{p.name}` | {flag} | {p.kind.value} | {_cell(default_text(p))} | {_cell(label)} |")
        lines.append("")
        lines += [f"**{p.name}**: {sentence(p.help)}\n" for p in spec.params if p.help and p.surfaces]
    if any(p.kind is Kind.MODEL for p in spec.params):
        lines += ["The bundled models and their cards: [Models](../../models/index.md).", ""]
    if spec.measured is not None:
        lines += [spec.measured(), ""]
    if spec.results:
        lines += ["## Results", "", spec.results, ""]
    if spec.example:
        lines += ["## Example", "", "```python" if spec.example.startswith("processing") else "```sh", spec.example,
                  "```", ""]
    return "\n".join(lines)


def algorithm_pages(specs: Sequence[AlgorithmSpec]) -> dict[str, str]:
    """The reference pages of ``specs`` by file name, with an index."""
    pages = {f"{spec.id}.md": markdown_page(spec) for spec in specs}
    index = ["# Algorithm reference", "", "Generated from the algorithms' specs: the same facts as the QGIS dialogs, "
             "their help and `euromine COMMAND --help`.", "", "| Algorithm | Id | Summary |", "|---|---|---|"]
    index += [f"| [{s.title}]({s.id}.md) | `{s.id}` | {s.summary} |" for s in specs]
    return {"index.md": "\n".join(index) + "\n", **pages}
