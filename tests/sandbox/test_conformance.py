"""The served sandbox conforms to openapi.yaml: a bounded, derandomized schemathesis run finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode

from meterly.sandbox import DEFAULT_API_KEY, Sandbox

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"

schema = schemathesis.openapi.from_path(SPEC)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=15, deterministic=True
)
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "x-api-key": DEFAULT_API_KEY}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@schema.parametrize()
def test_sandbox_answers_every_generated_request_as_the_spec_says(case: Any, sandbox: Sandbox) -> None:
    case.call_and_validate(base_url=sandbox.url, headers=AUTH)
