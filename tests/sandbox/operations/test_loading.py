"""Each operation of the registry is answered by the sandbox module named after it."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from meterly._registry import OPERATIONS
from meterly.sandbox import SandboxEngine
from meterly.sandbox import _engine as engine_module
from meterly.sandbox.operations import module_name


class Unanswered:
    """A registry entry the sandbox has no module for."""

    operation_id = "widgetsFrobnicate"
    resource = "widgets"
    method_name = "frobnicate"


def test_every_operation_has_a_module_named_resource_underscore_method() -> None:
    for op in OPERATIONS:
        name = module_name(op)
        assert name == f"meterly.sandbox.operations.{op.resource}_{op.method_name}"
        assert callable(importlib.import_module(name).handle)


def test_an_engine_answers_every_operation_of_the_registry() -> None:
    assert set(SandboxEngine().handlers) == {op.operation_id for op in OPERATIONS}


def test_an_operation_without_its_module_stops_the_engine_being_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unanswered: Any = Unanswered()
    monkeypatch.setattr(engine_module, "OPERATIONS", (*OPERATIONS, unanswered))
    with pytest.raises(LookupError, match=r"meterly\.sandbox\.operations\.widgets_frobnicate"):
        SandboxEngine()
