"""Request bodies are read by a parser compiled from the operation's request model."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, List, Optional

import pytest
from pydantic import BaseModel, Field
from typing_extensions import Annotated

from meterly._registry import BY_ID
from meterly.sandbox._http import ProtocolError
from meterly.sandbox.operations import handler
from meterly.sandbox.operations._body import body_parser


class Pair(BaseModel):
    name: str
    value: str


class Example(BaseModel):
    customer_id: Annotated[str, Field(alias="customerId", min_length=1)]
    count: Annotated[int, Field(ge=2, le=5)]
    amount: Optional[float] = None
    when: Optional[datetime] = None
    labels: Optional[List[Pair]] = None
    extra: Optional[Dict[str, Any]] = None
    dry_run: Optional[bool] = None


class Unreadable(BaseModel):
    customer_id: str
    tags: set[str]


parse = body_parser(Example)


def refusal(body: Dict[str, Any]) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse(body)
    assert caught.value.status == 400
    return caught.value


def test_json_keys_are_the_model_s_aliases() -> None:
    body = parse({"customerId": "cus_1", "count": 3})
    assert body.text("customer_id") == "cus_1"
    assert body.key("customer_id") == "customerId"
    assert body.key("count") == "count"


def test_a_missing_required_field_is_refused_by_its_json_key() -> None:
    error = refusal({"count": 3})
    assert (error.param, error.message) == ("customerId", "customerId is required")


def test_whole_number_bounds_come_from_the_model() -> None:
    error = refusal({"customerId": "cus_1", "count": 6})
    assert (error.param, error.message) == ("count", "count must be a whole number from 2 to 5")
    assert parse({"customerId": "cus_1", "count": Decimal("3.0")}).whole("count") == 3


def test_numbers_are_read_exactly_and_optional_fields_default() -> None:
    body = parse({"customerId": "cus_1", "count": 2, "amount": Decimal("0.1")})
    assert body.number("amount") == Decimal("0.1")
    assert parse({"customerId": "cus_1", "count": 2}).number("amount") is None
    assert parse({"customerId": "cus_1", "count": 2}).flag("dry_run") is False
    assert parse({"customerId": "cus_1", "count": 2}).mapping("extra") == {}
    assert refusal({"customerId": "cus_1", "count": 2, "amount": True}).message == "amount must be a number"


def test_a_timestamp_stays_as_sent_once_it_reads_as_iso_8601() -> None:
    body = parse({"customerId": "cus_1", "count": 2, "when": "2026-01-01T00:00:00Z"})
    assert body.optional_text("when") == "2026-01-01T00:00:00Z"
    error = refusal({"customerId": "cus_1", "count": 2, "when": "soon"})
    assert (error.param, error.message) == ("when", "when must be an ISO 8601 date-time")


def test_a_list_of_records_keeps_the_model_s_keys_and_drops_others() -> None:
    body = parse({"customerId": "cus_1", "count": 2, "labels": [{"name": "a", "value": "b", "x": 1}]})
    assert body.records("labels") == [{"name": "a", "value": "b"}]
    error = refusal({"customerId": "cus_1", "count": 2, "labels": [{"name": "a"}]})
    assert error.message == 'labels must be a list of {"name", "value"} pairs of strings'


def test_a_field_the_sandbox_cannot_read_fails_when_the_parser_is_compiled() -> None:
    with pytest.raises(TypeError, match="'tags'"):
        body_parser(Unreadable)


def test_each_operation_s_parser_is_compiled_once() -> None:
    for op in BY_ID.values():
        assert handler(op) is handler(op)
