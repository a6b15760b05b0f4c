"""The registry of operations: each declared once, its body parameters compiled from its request model."""

from __future__ import annotations

import inspect
import typing
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest
from pydantic import Field
from typing_extensions import Annotated

from meterly import AsyncMeterly, Meterly, errors, models
from meterly._declaration import BEARER_AUTH, Operation, body_params
from meterly._registry import BY_ID, OPERATIONS, resources
from meterly.types import UNSET, BaseModel
from meterly.usage import USAGE_CHECK

from .conftest import Harness, json_response, ok_check, sequence


def test_every_operation_is_a_method_of_both_clients() -> None:
    for op in OPERATIONS:
        sync = getattr(typing.get_type_hints(Meterly)[op.resource], op.method_name)
        async_ = getattr(typing.get_type_hints(AsyncMeterly)[op.resource], op.method_name)
        assert not inspect.iscoroutinefunction(sync)
        assert inspect.iscoroutinefunction(async_)


def test_ids_paths_and_sdk_calls_are_unique() -> None:
    assert len(BY_ID) == len(OPERATIONS)
    assert len({(op.method, op.path) for op in OPERATIONS}) == len(OPERATIONS)
    assert len({(op.resource, op.method_name) for op in OPERATIONS}) == len(OPERATIONS)
    assert [op for ops in resources().values() for op in ops] == sorted(
        OPERATIONS, key=lambda op: list(resources()).index(op.resource)
    )


def test_body_parameters_take_their_json_keys_from_the_aliases() -> None:
    assert [(p.name, p.key, p.required) for p in USAGE_CHECK.params] == [
        ("customer_id", "customerId", True),
        ("feature_code", "featureCode", True),
        ("quantity", "quantity", True),
    ]


def test_the_parameters_are_compiled_once() -> None:
    assert USAGE_CHECK.params is USAGE_CHECK.params


class _Request(BaseModel):
    """A request model exercising each kind of check."""

    name: Annotated[str, Field(min_length=1)]
    note: Optional[str] = None
    count: Annotated[int, Field(ge=2, le=5)]
    ratio: Optional[float] = Field(default=None, ge=0, le=1)
    extra: Optional[Dict[str, Any]] = None
    tags: Optional[List[str]] = None
    at: Optional[datetime] = None


CHECKS = {param.name: param for param in body_params(_Request)}


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("name", "", "name: must not be empty"),
        ("name", 3, "name: must be a str, got int"),
        ("note", "a\r\nb", "note: must not contain control characters such as CR or LF"),
        ("count", 1, "count: must be between 2 and 5, got 1"),
        ("count", True, "count: must be an int, got bool"),
        ("ratio", 1.5, "ratio: must be between 0 and 1, got 1.5"),
        ("ratio", float("nan"), "ratio: must be a finite number, got nan"),
        ("extra", {1: "x"}, "extra: must be a dict with str keys"),
        ("tags", ["a", 2], "tags: 1: Input should be a valid string"),
        ("at", "yesterday", "at: must be an ISO 8601 date-time, got 'yesterday'"),
        ("at", 1764547200, "at: must be a datetime or an ISO 8601 str, got int"),
    ],
)
def test_annotations_and_field_constraints_become_the_checks(name: str, value: Any, problem: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        CHECKS[name].check(name, value)
    assert str(caught.value) == problem


def test_a_value_that_passes_is_sent_as_given_and_only_containers_are_nested() -> None:
    given = {
        "name": "n",
        "note": "",
        "count": 5,
        "ratio": 0,
        "extra": {"a": [1]},
        "tags": ["x"],
        "at": "2026-12-01T09:30:00Z",
    }
    assert {name: CHECKS[name].check(name, value) for name, value in given.items()} == given
    assert {name for name, param in CHECKS.items() if param.nested} == {"extra", "tags"}
    assert {name for name, param in CHECKS.items() if param.required} == {"name", "count"}


def test_a_datetime_is_sent_as_its_iso_8601_text() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert CHECKS["at"].check("at", at) == "2026-12-01T09:30:00+00:00"


RECORD = Operation[models.CheckResponse](
    operation_id="balancesRecord",
    sdk_call="balances.record",
    path="/v1/balances.check",
    security=BEARER_AUTH,
    request=lambda: models.BalancesCheckRequest,
    response=lambda: models.CheckResponse,
    writes=True,
)
"""A write without a fallback, at a path the test answers."""

OPTIONS = {
    "idempotency_key": None,
    "retries": UNSET,
    "server_url": None,
    "timeout_ms": None,
    "http_headers": None,
}
ARGUMENTS = {
    "customer_id": "cus_123",
    "feature_id": "messages",
    **dict.fromkeys(("entity_id", "required_balance", "properties", "send_event", "with_preview", "lock")),
    **OPTIONS,
    "http_headers": None,
}


def _record(h: Harness) -> Any:
    return h._run(h.client._request(RECORD, ARGUMENTS))


def test_an_operation_without_a_fallback_is_never_answered_by_fail_open(make: Any) -> None:
    down = sequence(json_response(503, {"message": "down", "code": "unavailable"}))
    h = make(down, fail_open=True, retry_config=None)
    for _ in range(8):  # past the circuit's failure threshold too
        # A write the service does not deduplicate, answered 503: it may have been recorded.
        with pytest.raises(errors.WriteOutcomeUnknownError) as caught:
            _record(h)
        assert isinstance(caught.value.__cause__, errors.InternalServerError)
    assert len(h.requests) == 8  # every call was sent: no open circuit answered for it


def test_an_operation_without_a_fallback_succeeds_under_fail_open(make: Any) -> None:
    h = make(ok_check, fail_open=True)
    assert _record(h).allowed is True


def test_writes_may_depend_on_an_argument() -> None:
    check = BY_ID["balancesCheck"]
    assert check.writes_with({"send_event": True}) is True
    assert check.writes_with({"send_event": None}) is False
    assert BY_ID["usageCheck"].writes_with({}) is False
    assert BY_ID["usageTrack"].writes_with({}) is True
    assert BY_ID["usageTrack"].fallback is None  # a write is never answered by fail-open
    assert RECORD.writes_with({}) is True
