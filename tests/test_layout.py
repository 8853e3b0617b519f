"""The package's layout: imports run one way through the stages of the flow, no module-level import
cycles, no module over 400 lines without a reason, and the 0.1 module paths still import (with a
deprecation warning) until 0.3.

Stages, lowest first (a module may import its own stage and the ones listed as below it)::

    types, errors, config, runtime
    data, features, augment, models, decoders, lm, scoring, corpora   (the pipeline's stages)
    inference          (a checkpoint put to use; may use everything above except training)
    training           (the loop; dev evaluation runs through inference)
    api                (the facade)
    cli                (the thin click layer)
"""
from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqlabel"
RECIPES = ROOT / "corpora"
MAX_LINES = 400

STAGES = ("data", "features", "augment", "models", "decoders", "lm", "scoring", "corpora")
TOP = ("inference", "training", "api", "cli")
# (importer stage, imported stage) pairs that go against the flow, beyond "a stage imports a higher one"
FORBIDDEN = {("models", "data"), ("scoring", "models"), ("scoring", "decoders"), ("inference", "training")}
ALIASES = ("model", "checkpoint", "metrics", "folding", "significance", "report", "evaluation", "transcripts",
           "manifest", "vocab", "recognizer", "export", "train", "plot")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for seqlabel and the recipes (installed as seqlabel.corpora)."""
    out = {}
    for base, prefix in ((PACKAGE, "seqlabel"), (RECIPES, "seqlabel.corpora")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts])] = path
    return out


def imports(path: Path, module: str, known: dict[str, Path], top_level_only: bool = False) -> set[str]:
    """Absolute names of the seqlabel modules ``path`` imports (``from seqlabel import x`` -> seqlabel.x)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                package = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def stage(module: str) -> str:
    """seqlabel.scoring.metrics -> scoring; seqlabel.api -> api; seqlabel.errors -> base."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    name = "cli" if parts[1] == "__main__" else parts[1]
    return name if name in STAGES + TOP else "base"


def rank(name: str) -> int:
    if name == "base":
        return 0
    if name in STAGES:
        return 1
    return 2 + TOP.index(name)


def violations() -> list[str]:
    out = []
    known = module_files()
    for module, path in sorted(known.items()):
        if module.split(".")[-1] in ALIASES and module.count(".") == 1 or module == "seqlabel._moved":
            continue
        for target in sorted(imports(path, module, known)):
            a, b = stage(module), stage(target)
            if target.split(".")[-1] in ALIASES and target.count(".") == 1:
                out.append(f"{module} imports the deprecated alias {target}")
            elif rank(b) > rank(a) or (a, b) in FORBIDDEN or (a == "base" and b != "base"):
                out.append(f"{module} ({a}) imports {target} ({b})")
    return out


def test_imports_run_one_way_through_the_stages():
    assert violations() == []


def test_no_import_cycles_between_modules():
    files = module_files()
    graph = {m: imports(p, m, files, top_level_only=True) - {m} for m, p in files.items()}
    for m in graph:  # importing a submodule runs its packages' __init__ first
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_checker_sees_an_arrow_against_the_flow(tmp_path, monkeypatch):
    """The walk must be able to fail: a scoring module that imports a model is reported."""
    fake = tmp_path / "seqlabel"
    (fake / "scoring").mkdir(parents=True)
    (fake / "models").mkdir()
    for init in (fake / "__init__.py", fake / "scoring" / "__init__.py", fake / "models" / "__init__.py"):
        init.write_text("", encoding="utf-8")
    (fake / "models" / "bilstm.py").write_text("X = 1\n", encoding="utf-8")
    (fake / "scoring" / "metrics.py").write_text("def f():\n    from seqlabel.models.bilstm import X\n",
                                                encoding="utf-8")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    monkeypatch.setitem(globals(), "RECIPES", tmp_path / "none")
    assert violations() == ["seqlabel.scoring.metrics (scoring) imports seqlabel.models.bilstm (models)"]


def test_no_file_over_400_lines_without_a_reason():
    """A file kept whole on purpose says so in its docstring with the words 'kept whole'."""
    long = []
    for path in [*PACKAGE.rglob("*.py"), *RECIPES.rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES and "kept whole" not in text[:2000]:
            long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert long == []


@pytest.mark.parametrize("old", ALIASES)
def test_old_module_paths_import_with_a_deprecation_warning(old):
    import sys

    sys.modules.pop(f"seqlabel.{old}", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"seqlabel.{old}")
    assert any(issubclass(w.category, DeprecationWarning) and f"seqlabel.{old} moved" in str(w.message)
               for w in caught)
    assert module.__name__ != f"seqlabel.{old}"  # the new module itself, not a copy
    sys.modules.pop(f"seqlabel.{old}", None)
