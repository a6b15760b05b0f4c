"""`python -m meterly`: runs the `meterly` command and exits with its status."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import List, Optional

import pytest

import meterly.cli

MAIN = str(Path(meterly.cli.__file__).with_name("__main__.py"))


def test_running_the_package_exits_with_the_commands_status(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Optional[List[str]]] = []

    def main(argv: Optional[List[str]] = None) -> int:
        calls.append(argv)
        return 3

    monkeypatch.setattr(meterly.cli, "main", main)
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(MAIN, run_name="__main__")
    assert exited.value.code == 3
    assert calls == [None]


def test_importing_the_module_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Optional[List[str]]] = []
    monkeypatch.setattr(meterly.cli, "main", calls.append)
    namespace = runpy.run_path(MAIN, run_name="meterly.__main__")
    assert namespace["main"] == calls.append
    assert calls == []
