"""Response validation is compiled once: after a model's first use, calls build no schema or validator."""

from __future__ import annotations

from typing import Any, Callable

import pydantic
import pytest
from pydantic._internal import _generate_schema

from .conftest import Harness, ok_any

Make = Callable[..., Harness]


@pytest.fixture
def schema_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every pydantic schema generation, TypeAdapter and create_model from now on."""
    seen: list[str] = []
    original_init = _generate_schema.GenerateSchema.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append("GenerateSchema")
        original_init(self, *args, **kwargs)

    original_adapter = pydantic.TypeAdapter.__init__

    def counting_adapter(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append("TypeAdapter")
        original_adapter(self, *args, **kwargs)

    def no_create_model(*args: Any, **kwargs: Any) -> Any:
        seen.append("create_model")
        raise AssertionError("create_model called on the hot path")

    monkeypatch.setattr(_generate_schema.GenerateSchema, "__init__", counting_init)
    monkeypatch.setattr(pydantic.TypeAdapter, "__init__", counting_adapter)
    monkeypatch.setattr(pydantic, "create_model", no_create_model)
    return seen


def test_calls_after_the_first_build_no_schema_or_validator(
    make: Make, request: pytest.FixtureRequest
) -> None:
    h = make(ok_any)
    h.check()  # first use of each model may compile it (models are built lazily)
    h.usage()
    seen: list[str] = request.getfixturevalue("schema_builds")
    for _ in range(50):
        assert h.check().allowed is True
        assert h.usage().allowed is True
    assert seen == []


def test_the_recorder_sees_a_schema_build(schema_builds: list[str]) -> None:
    class Fresh(pydantic.BaseModel):
        value: int

    assert Fresh.model_validate_json(b'{"value": 1}').value == 1
    assert "GenerateSchema" in schema_builds
