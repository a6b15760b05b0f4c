"""IDE hover help for the integrations: every argument of their public calls has a docstring line."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from meterly.integrations.django import require_feature
from meterly.integrations.fastapi import RequireFeature, meterly_lifespan
from meterly.integrations.flask import MeterlyFlask
from meterly.integrations.flask import require_feature as flask_require_feature
from meterly.integrations.otel import MeterlyInstrumentor
from tests.test_docstrings import test_every_argument_has_a_docstring_line as check_docstring

CALLABLES: list[Callable[..., Any]] = [
    RequireFeature.__init__,
    meterly_lifespan,
    require_feature,
    flask_require_feature,
    MeterlyInstrumentor.__init__,
    MeterlyFlask.__init__,
]


@pytest.mark.parametrize("function", CALLABLES, ids=lambda f: f.__qualname__)
def test_every_argument_has_a_docstring_line(function: Callable[..., Any]) -> None:
    check_docstring(function)
