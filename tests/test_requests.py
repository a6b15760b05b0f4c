"""What goes on the wire: URL, headers, body, auth per operation, per-call overrides."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

import httpx
import pytest

import meterly
from meterly import errors

from .conftest import API_KEY, Harness, ok_any, ok_check, ok_usage

Make = Callable[..., Harness]


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_balances_check_posts_snake_case_body_with_bearer_auth(make: Make) -> None:
    h = make(ok_check)
    h.check(customer_id="cus_1", feature_id="messages", required_balance=2.5, send_event=True)
    (request,) = h.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.meterly.dev/v1/balances.check"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-api-key" not in request.headers
    assert body_of(request) == {
        "customer_id": "cus_1",
        "feature_id": "messages",
        "required_balance": 2.5,
        "send_event": True,
    }


def test_usage_check_posts_camel_case_body_with_api_key_header(make: Make) -> None:
    h = make(ok_usage)
    result = h.usage(customer_id="cus_1", feature_code="api_calls", quantity=3)
    (request,) = h.requests
    assert str(request.url) == "https://api.meterly.dev/v1/usage/check"
    assert request.headers["x-api-key"] == API_KEY
    assert "authorization" not in request.headers
    assert body_of(request) == {"customerId": "cus_1", "featureCode": "api_calls", "quantity": 3}
    assert isinstance(result, meterly.models.UsageCheck)
    assert result.quantity == 3


def test_usage_quantity_defaults_to_one(make: Make) -> None:
    h = make(ok_usage)
    h.usage()
    assert body_of(h.requests[0])["quantity"] == 1


def test_arguments_left_at_none_are_omitted_not_sent_as_null(make: Make) -> None:
    h = make(ok_check)
    h.check(entity_id=None, required_balance=None, properties=None, send_event=None, with_preview=None)
    assert body_of(h.requests[0]) == {"customer_id": "cus_123", "feature_id": "messages"}


def test_every_argument_reaches_the_body(make: Make) -> None:
    h = make(ok_check)
    h.check(
        entity_id="seat_1",
        required_balance=0,
        properties={"name": "Ada", "nested": {"a": [1, 2]}},
        send_event=False,
        with_preview=True,
    )
    assert body_of(h.requests[0]) == {
        "customer_id": "cus_123",
        "feature_id": "messages",
        "entity_id": "seat_1",
        "required_balance": 0,
        "properties": {"name": "Ada", "nested": {"a": [1, 2]}},
        "send_event": False,
        "with_preview": True,
    }


def test_standard_headers_are_sent(make: Make) -> None:
    h = make(ok_check)
    h.check()
    headers = h.requests[0].headers
    assert re.fullmatch(r"meterly-python/\S+ python/\d+\.\d+\.\d+ httpx/\S+", headers["user-agent"])
    assert headers["user-agent"].startswith(f"meterly-python/{meterly.__version__} ")
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"


def test_a_fresh_uuid4_idempotency_key_per_call(make: Make) -> None:
    h = make(ok_check)
    h.check()
    h.check()
    keys = [r.headers["idempotency-key"] for r in h.requests]
    assert keys[0] != keys[1]
    assert all(uuid.UUID(k).version == 4 for k in keys)


def test_the_callers_idempotency_key_is_sent(make: Make) -> None:
    h = make(ok_any)
    h.check(idempotency_key="order-42")
    h.usage(idempotency_key="order-43")
    assert [r.headers["idempotency-key"] for r in h.requests] == ["order-42", "order-43"]


def test_http_headers_add_and_replace_headers_for_one_call(make: Make) -> None:
    h = make(ok_check)
    h.check(http_headers={"X-Trace": "abc", "Accept": "application/vnd.meterly+json"})
    h.check()
    first, second = h.requests
    assert first.headers["x-trace"] == "abc"
    assert first.headers["accept"] == "application/vnd.meterly+json"
    assert "x-trace" not in second.headers
    assert second.headers["accept"] == "application/json"


def test_per_call_server_url_overrides_the_clients(make: Make) -> None:
    h = make(ok_check, server_url="https://eu.meterly.dev/")
    h.check()
    h.check(server_url="http://127.0.0.1:8787")
    assert [str(r.url) for r in h.requests] == [
        "https://eu.meterly.dev/v1/balances.check",
        "http://127.0.0.1:8787/v1/balances.check",
    ]


def test_per_call_timeout_ms_sets_the_attempt_timeout(make: Make) -> None:
    h = make(ok_check, timeout_ms=2500)
    h.check()
    h.check(timeout_ms=300)
    timeouts = [r.extensions["timeout"] for r in h.requests]
    assert timeouts[0] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert timeouts[1] == {"connect": 0.3, "read": 0.3, "write": 0.3, "pool": 0.3}


def test_injected_clients_own_timeout_is_kept_when_none_is_given(mode: str) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return ok_check(request)

    transport = httpx.MockTransport(handler)
    if mode == "sync":
        with httpx.Client(transport=transport, timeout=7.0) as http:
            meterly.Meterly(api_key=API_KEY, client=http).balances.check(customer_id="c", feature_id="f")
    else:
        import asyncio

        async def go() -> None:
            async with httpx.AsyncClient(transport=transport, timeout=7.0) as http:
                await meterly.AsyncMeterly(api_key=API_KEY, client=http).balances.check(
                    customer_id="c", feature_id="f"
                )

        asyncio.run(go())
    assert requests[0].extensions["timeout"]["read"] == 7.0


BAD_CHECK_ARGUMENTS = [
    ({"customer_id": ""}, "customer_id"),
    ({"customer_id": 123}, "customer_id"),
    ({"customer_id": None}, "customer_id"),
    ({"customer_id": "cus\r\nX-Evil: 1"}, "customer_id"),
    ({"feature_id": ""}, "feature_id"),
    ({"feature_id": b"messages"}, "feature_id"),
    ({"entity_id": ""}, "entity_id"),
    ({"required_balance": float("nan")}, "required_balance"),
    ({"required_balance": float("inf")}, "required_balance"),
    ({"required_balance": "3"}, "required_balance"),
    ({"required_balance": True}, "required_balance"),
    ({"send_event": "yes"}, "send_event"),
    ({"with_preview": 1}, "with_preview"),
    ({"properties": ["a"]}, "properties"),
    ({"properties": {1: "a"}}, "properties"),
    ({"properties": {"when": object()}}, "properties"),
    ({"properties": {"x": float("nan")}}, "properties"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"idempotency_key": "a\nb"}, "idempotency_key"),
    ({"idempotency_key": "k" * 256}, "idempotency_key"),
    ({"timeout_ms": 0}, "timeout_ms"),
    ({"timeout_ms": 1.5}, "timeout_ms"),
    ({"server_url": "ftp://example.com"}, "server_url"),
    ({"retries": 3}, "retries"),
    ({"http_headers": {"X-A": "1\r\nX-B: 2"}}, "http_headers"),
    ({"http_headers": {"Bad Name": "1"}}, "http_headers"),
]


@pytest.mark.parametrize(("kwargs", "param"), BAD_CHECK_ARGUMENTS)
def test_bad_check_arguments_raise_before_any_io(make: Make, kwargs: dict[str, Any], param: str) -> None:
    h = make(ok_check)
    with pytest.raises(errors.RequestValidationError) as info:
        h.check(**kwargs)
    assert info.value.param == param
    assert str(info.value).startswith(f"{param}: ")
    assert isinstance(info.value, ValueError)
    assert h.requests == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 1.0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 2**53}, "quantity"),
        ({"feature_code": ""}, "feature_code"),
        ({"customer_id": "\x00"}, "customer_id"),
    ],
)
def test_bad_usage_arguments_raise_before_any_io(make: Make, kwargs: dict[str, Any], param: str) -> None:
    h = make(ok_usage)
    with pytest.raises(errors.RequestValidationError) as info:
        h.usage(**kwargs)
    assert info.value.param == param
    assert h.requests == []


def test_large_but_safe_quantity_is_accepted(make: Make) -> None:
    h = make(ok_usage)
    h.usage(quantity=2**53 - 1)
    assert body_of(h.requests[0])["quantity"] == 2**53 - 1


def test_non_ascii_ids_are_sent_as_utf8(make: Make) -> None:
    h = make(ok_check)
    h.check(customer_id="cliënt-東京")
    assert body_of(h.requests[0])["customer_id"] == "cliënt-東京"
