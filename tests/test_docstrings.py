"""IDE hover help: every argument of every public call has a line in its docstring."""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any, Callable

import pytest

from meterly import AsyncMeterly, Meterly
from meterly._registry import OPERATIONS
from meterly.balances import Balances

CALLABLES: list[Callable[..., Any]] = [
    *(
        getattr(typing.get_type_hints(client)[op.resource], op.method_name)
        for op in OPERATIONS
        for client in (Meterly, AsyncMeterly)
    ),
    Meterly.__init__,
    AsyncMeterly.__init__,
    Meterly.with_options,
    AsyncMeterly.with_options,
]


@pytest.mark.parametrize("function", CALLABLES, ids=lambda f: f.__qualname__)
def test_every_argument_has_a_docstring_line(function: Callable[..., Any]) -> None:
    doc = inspect.getdoc(function) or ""
    args = doc.split("Args:", 1)[1] if "Args:" in doc else ""
    documented = set(re.findall(r"^    (?:\*\*)?(\w+): \S", args, flags=re.MULTILINE))
    parameters = {name for name in inspect.signature(function).parameters if name != "self"}
    assert parameters - documented == set()
    assert documented - parameters == set()


def test_balances_check_documents_giving_usage_back() -> None:
    doc = inspect.getdoc(Balances.check) or ""
    assert "negative" in doc
    assert "gives usage back" in " ".join(doc.split())
