"""Tests mirror the layout: every core module of `src/meterly` has a test module named after it.

`src/meterly/<package>/<name>.py` is tested by `tests/unit/<package>/test_<name>.py` or
`tests/<package>/test_<name>.py`, leading underscores dropped (`_hooks/sdkhooks.py`:
`tests/unit/hooks/test_sdkhooks.py`). A package's `__init__.py` that only imports and lists names needs
none; one that defines a function or class is mirrored as `test_<package>.py` beside the package's
tests (`meterly/__init__.py`: `tests/unit/test_meterly.py`).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src" / "meterly"
"""This checkout's source, whichever `meterly` is imported."""

NOT_CORE: Dict[str, str] = {
    "sandbox": "the emulator: its own suite under tests/sandbox",
    "integrations": "framework adapters: their own suite under tests/integrations",
    "testing": "the public test helpers: their own suite under tests/testing",
    "models": "one module per model: tests/unit/test_every_model.py runs over every model, test_models.py",
    "cli.py": "the `meterly` command: tests/test_cli.py",
}
"""Top-level parts of `src/meterly` that are not core modules, each with where it is tested."""

ALIASES: Dict[str, Tuple[str, str]] = {
    "_pools.py": ("resilience/test_process_safety.py", "pools are about fork and event-loop lifecycle"),
    "_engines/deadline.py": (
        "resilience/test_deadlines.py",
        "the deadline is tested with its I/O, on sockets",
    ),
    "_engines/deadline_io.py": (
        "resilience/test_deadlines.py",
        "the deadline is tested with its I/O, on sockets",
    ),
    "_engines/httpx_engine.py": (
        "engines/test_seam.py",
        "every engine runs one conformance suite, by the seam",
    ),
    "_engines/httpx2_engine.py": (
        "engines/test_seam.py",
        "every engine runs one conformance suite, by the seam",
    ),
    "_engines/pyreqwest_engine.py": (
        "engines/test_seam.py",
        "every engine runs one conformance suite, by the seam",
    ),
    "_engines/aiohttp_engine.py": (
        "engines/test_seam.py",
        "every engine runs one conformance suite, by the seam",
    ),
    "balances.py": ("unit/test_resources.py", "generated from the registry: tested once, over it"),
    "usage.py": ("unit/test_resources.py", "generated from the registry: tested once, over it"),
}
"""Modules tested under another name (path relative to `tests/`), each with its reason."""


def _only_names(module: Path) -> bool:
    """True when `module` defines no function or class (it imports, assigns and lists names)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return not any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for node in ast.walk(tree)
    )


def core_modules() -> List[str]:
    """The core modules, as paths relative to `src/meterly` (`_hooks/sdkhooks.py`)."""
    found = []
    for module in sorted(SRC.rglob("*.py")):
        relative = module.relative_to(SRC)
        if relative.parts[0] in NOT_CORE or "__pycache__" in relative.parts:
            continue
        if module.name == "__init__.py" and _only_names(module):
            continue
        found.append(relative.as_posix())
    return found


def mirrors(relative: str) -> List[Path]:
    """Where the test module of `relative` may be: under `tests/unit/` or `tests/`, same packages."""
    path = Path(relative)
    folders = path.parts[:-1] if path.name == "__init__.py" else path.with_suffix("").parts
    *packages, name = [part.strip("_") for part in folders] or ["meterly"]
    test = Path(*packages, f"test_{name}.py")
    return [TESTS / "unit" / test, TESTS / test]


def test_the_walk_finds_the_core_and_leaves_out_the_rest() -> None:
    modules = core_modules()
    assert "_pipeline.py" in modules
    assert "_hooks/sdkhooks.py" in modules
    assert "__init__.py" in modules  # defines the lazy `FailOpenPolicy`
    assert "_hooks/__init__.py" not in modules  # only re-exports
    assert not any(module.split("/")[0] in NOT_CORE for module in modules)


def test_a_module_is_mirrored_by_its_name_without_leading_underscores() -> None:
    assert mirrors("_hooks/sdkhooks.py") == [
        TESTS / "unit" / "hooks" / "test_sdkhooks.py",
        TESTS / "hooks" / "test_sdkhooks.py",
    ]
    assert mirrors("__init__.py") == [TESTS / "unit" / "test_meterly.py", TESTS / "test_meterly.py"]


@pytest.mark.parametrize("module", core_modules())
def test_every_core_module_has_its_test_module(module: str) -> None:
    if module in ALIASES:
        tested_by, _reason = ALIASES[module]
        assert (TESTS / tested_by).is_file(), f"{module}'s alias {tested_by} is gone"
        return
    assert any(path.is_file() for path in mirrors(module)), (
        f"{module} has no test module: add {mirrors(module)[0].relative_to(TESTS.parent)}"
    )


def test_every_alias_and_exclusion_names_something_that_exists() -> None:
    for module in ALIASES:
        assert (SRC / module).is_file(), f"ALIASES names {module}, which is gone"
    for part in NOT_CORE:
        assert (SRC / part).exists(), f"NOT_CORE names {part}, which is gone"
