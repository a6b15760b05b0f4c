"""The sandbox's modules form layers: no import cycle, and the world never imports the HTTP side.

Every import counts: top-level, deferred (inside a function) and `TYPE_CHECKING` ones.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import meterly.sandbox

ROOT = Path(meterly.sandbox.__file__).parent
PACKAGE = "meterly.sandbox"
WORLD = {"_clock", "_state", "_ledger", "_world", "_seed"}
"""Modules that know nothing of HTTP: they import only each other (and the standard library)."""


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imports() -> Dict[str, Set[str]]:
    """Each sandbox module and the sandbox modules it imports anywhere in its text."""
    modules = {_name(path): path for path in ROOT.rglob("*.py")}
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    found: List[List[str]] = []
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_sandbox_has_no_import_cycle() -> None:
    assert cycles(imports()) == []


def test_the_world_imports_nothing_of_http() -> None:
    graph = imports()
    world = {f"{PACKAGE}.{name}" for name in WORLD}
    for name in world:
        assert graph[name] <= world, f"{name} imports {sorted(graph[name] - world)}"


def test_the_check_finds_the_imports_it_must_see() -> None:
    graph = imports()
    assert f"{PACKAGE}._world" in graph[f"{PACKAGE}._seed"]
    assert f"{PACKAGE}.services.commet" in graph[f"{PACKAGE}._routes"]
