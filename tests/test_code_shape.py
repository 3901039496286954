"""Limits that keep the code readable one piece at a time, checked on the source (no imports):
short functions, a short pipeline, front ends and widgets in their layers, one row vocabulary."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "trt_tui"
MAX_FUNCTION_LINES = 60
MAX_PIPELINE_LINES = 250
SOURCES = sorted(PKG.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(PKG.parent).as_posix()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every trt_tui module ``path`` imports, at module level or inside a function, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m.startswith("trt_tui.")]


def test_no_function_is_longer_than_60_lines() -> None:
    long = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{rel(path)}:{node.lineno} {node.name} is {lines} lines")
    assert not long, "\n".join(long)


def test_the_pipeline_stays_a_table_of_contents() -> None:
    lines = len((PKG / "core" / "pipeline.py").read_text(encoding="utf-8").splitlines())
    assert lines < MAX_PIPELINE_LINES, f"core/pipeline.py has {lines} lines: put stage logic in core/stages/"


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("core", ("trt_tui.app", "trt_tui.cli", "trt_tui.child_job", "trt_tui.screens", "trt_tui.widgets",
              "trt_tui.screenshots", "trt_tui.messages", "trt_tui.format")),
    ("widgets", ("trt_tui.screens",)),
    ("cli.py", ("trt_tui.widgets", "trt_tui.screens")),
    ("format.py", ("trt_tui.widgets", "trt_tui.screens", "trt_tui.app")),
])
def test_layers_import_only_downwards(layer: str, forbidden: tuple[str, ...]) -> None:
    target = PKG / layer
    paths = [target] if target.is_file() else sorted(target.rglob("*.py"))
    bad = [f"{rel(p)}:{line} imports {m}" for p in paths for line, m in imported_modules(p)
           if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert not bad, "\n".join(bad)


def test_the_package_never_reads_the_tests_folder() -> None:
    pattern = re.compile(r"""["']tests["']|["']tests/|/tests/""")
    bad = [f"{rel(p)}:{i}" for p in SOURCES for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if pattern.search(line)]
    assert not bad, "\n".join(bad)


def test_row_ids_are_never_parsed_outside_the_row_vocabulary() -> None:
    """Backend and precision come from core/rows.py, never from the text of an id."""
    pattern = re.compile(r"""startswith\(\s*\(?\s*["'](pytorch|tensorrt|onnxruntime)(-[^"']*)?["']|"-(graph|compile)-" in|"""
                         r"""(row_id|rid|r)\.(r?split|partition)\(""")
    bad = [f"{rel(p)}:{i}: {line.strip()}" for p in SOURCES if p != PKG / "core" / "rows.py"
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not bad, "\n".join(bad)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """trt_tui module -> the trt_tui modules it imports: at module level, under TYPE_CHECKING or inside a
    function alike (a type-only or deferred import is still a loop a reader has to untangle)."""
    modules = {module_name(p): p for p in SOURCES}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x / from .x import y
                    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [node, nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, "\n".join(cycles)


def test_no_stage_imports_another_stage() -> None:
    """A stage takes what it reads (the context) and makes what it makes; pipeline.py orders them. The
    context and the runner factory are shared, not stages."""
    shared = {"trt_tui.core.stages.context", "trt_tui.core.stages.runners"}
    stages = sorted((PKG / "core" / "stages").glob("*.py"))
    bad = [f"{rel(p)}:{line} imports {m}" for p in stages for line, m in imported_modules(p)
           if m.startswith("trt_tui.core.stages.") and m not in shared and m.rpartition(".")[0] not in shared
           and module_name(p) != m]
    assert not bad, "\n".join(bad)
