"""No import cycle in `src/meterly`, counting every import: top-level, deferred (inside a function) and
type-only (`if TYPE_CHECKING:`). import-linter (`make lint`) keeps the layers; this test reads the
source itself, so no configuration of that tool can hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "meterly"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> Dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(name: str, path: Path, known: Set[str]) -> Set[str]:
    """The modules of the package that `name` imports anywhere in its source.

    `from meterly import models` imports the module `meterly.models`; `from meterly import Meterly`
    imports the package `meterly` itself (its `__init__` defines the name). The parent packages Python
    runs first on any import of a submodule are not edges: every module of a package shares them.
    """
    found: Set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, path.name == "__init__.py", node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known:
                    found.add(submodule)
                elif base in known:
                    found.add(base)
    found.discard(name)
    return found


def graph() -> Dict[str, Set[str]]:
    """Module -> the modules of the package it imports."""
    modules = _modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: List[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_sees_deferred_and_type_only_imports() -> None:
    source = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(source) == [["a", "b", "c"]]
    known = set(_modules())
    # _config imports _fail_open only inside functions, and FailOpenPolicy only for type checkers
    assert "meterly._fail_open" in imports_of("meterly._config", PACKAGE / "_config.py", known)
    assert "meterly.models.security" in imports_of("meterly._config", PACKAGE / "_config.py", known)


CORE = [name for name in _modules() if not name.startswith(("meterly.sandbox", "meterly.integrations"))]


def test_the_core_has_no_import_cycle() -> None:
    edges = graph()
    core = {name: {t for t in edges[name] if t in CORE} for name in CORE}
    assert cycles(core) == []


def test_the_whole_package_has_no_import_cycle() -> None:
    assert cycles(graph()) == []
