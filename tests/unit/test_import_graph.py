"""The package's imports point one way: no module imports another that imports it back (directly or
through others, TYPE_CHECKING imports included), core imports nothing outside core, and below the
application layer (core/app) nothing imports it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "euromine_qgis"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its file (functions and TYPE_CHECKING blocks too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:  # `from . import x` imports the module x where there is one
                    found = next((m for m in (f"{target}.{alias.name}", target) if m in modules), None)
                    if found:
                        graph[name].add(found)
            elif isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: each a path from a module back to itself (one per circle found)."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in path:
                found.append([*path[path.index(imported):], imported])
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return found


def test_there_is_no_import_circle():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("layer", ["io", "engine", "maps", "scoring", "batch"])
def test_the_layers_below_the_specs_do_not_import_them(layer):
    graph = import_graph()
    prefix = f"euromine_qgis.core.{layer}"
    assert {m: sorted(i for i in imports if i.startswith("euromine_qgis.core.app"))
            for m, imports in graph.items() if m.startswith(prefix)
            and any(i.startswith("euromine_qgis.core.app") for i in imports)} == {}


def test_core_imports_nothing_outside_core():
    graph = import_graph()
    outside = {m: sorted(i for i in imports if not i.startswith("euromine_qgis.core"))
               for m, imports in graph.items() if m.startswith("euromine_qgis.core")}
    assert {m: i for m, i in outside.items() if i} == {}
