"""Each parameter's default, help and choices are written once, in the specs (core/app and the
installer's spec): below them no function or dataclass restates a spec's default, and no surface
declares a parameter or a flag by hand."""
from __future__ import annotations

import ast
from pathlib import Path

from euromine_qgis.core.app.catalog import SPECS
from euromine_qgis.dependencies.spec import SPEC as INSTALLER

PACKAGE = Path(__file__).resolve().parents[2] / "euromine_qgis"
SPEC_FILES = {PACKAGE / "dependencies" / "spec.py", *(PACKAGE / "core" / "app").glob("*.py")}
# the names the engine gives some parameters' values
ALIASES = {"lam": "LAMBDA", "overlap": "TILE_OVERLAP"}
DEFAULT_HOLDERS = {"TileSettings", "ImageInput"}  # dataclasses whose fields are parameters' values


def _spec_defaults() -> dict[str, object]:
    """Each parameter's python name -> its spec default (None defaults mean "not given" and are left out)."""
    defaults: dict[str, object] = {}
    for spec in (*SPECS, INSTALLER):
        for p in spec.params:
            if p.default not in (None, ""):
                defaults[p.name.lower()] = p.default
    for alias, name in ALIASES.items():
        if name.lower() in defaults:
            defaults[alias] = defaults[name.lower()]
    return defaults


def _restated(tree: ast.AST, defaults: dict[str, object]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        pairs: list[tuple[str, ast.expr]] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs += [(a.arg, d) for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults,
                                                 strict=True)]
            pairs += [(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
        if isinstance(node, ast.ClassDef):
            pairs += [(s.target.id, s.value) for s in node.body
                      if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.value is not None]
        for name, value in pairs:
            if isinstance(value, ast.Constant) and name in defaults and value.value == defaults[name] \
                    and type(value.value) is type(defaults[name]):
                found.append((value.lineno, f"{name}={value.value!r}"))
            if isinstance(value, ast.Call) and getattr(value.func, "id", None) in DEFAULT_HOLDERS:
                found.append((value.lineno, f"{name}={ast.unparse(value)}"))
    return found


def test_no_spec_default_is_restated_below_the_specs():
    defaults = _spec_defaults()
    assert {"threshold", "lam", "temporal_filter", "min_area_ha", "pairs", "device", "scale"} <= set(defaults)
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
             for path in sorted(PACKAGE.rglob("*.py")) if path not in SPEC_FILES
             for line, text in _restated(ast.parse(path.read_text(encoding="utf-8")), defaults)]
    assert found == []


def test_the_scan_finds_a_restated_default():
    tree = ast.parse("def run(images, threshold: float = 0.5, *, lam=0.5, settings=TileSettings()): ...\n"
                     "class Options:\n    min_area_ha: float = 0.0\n    precision: str = 'fp32'\n")
    assert [text for _, text in _restated(tree, _spec_defaults())] == [
        "threshold=0.5", "lam=0.5", "settings=TileSettings()", "min_area_ha=0.0"]


def _calls(path: Path) -> set[str]:
    """The names of the functions and methods ``path`` calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {getattr(n.func, "id", None) or getattr(n.func, "attr", "")
            for n in ast.walk(tree) if isinstance(n, ast.Call)}


def test_no_surface_declares_a_parameter_by_hand():
    makers = {PACKAGE / "algorithms" / "parameters.py"}
    by_hand = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p not in makers
               and any(name.startswith("QgsProcessingParameter") and name[22:23].isupper() for name in _calls(p))]
    assert by_hand == []
    flags = {PACKAGE / "cli" / "flags.py", PACKAGE / "cli" / "main.py"}  # main.py: --json only
    assert [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
            if p not in flags and "add_argument" in _calls(p)] == []
    main_flags = [n.args[0].value for n in ast.walk(ast.parse((PACKAGE / "cli" / "main.py").read_text()))
                  if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument"]
    assert set(main_flags) == {"--json"}
    assert not list(PACKAGE.rglob("help/*.html")), "help pages are generated from the specs"
