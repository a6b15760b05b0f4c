"""with_raw_response: the HTTP exchange of a call, with the result parsed once, on demand."""

from __future__ import annotations

import asyncio
import datetime
from typing import Callable
from unittest import mock

import httpx
import pytest

import meterly._raw
from meterly import AsyncMeterly, Meterly, RawResponse, errors, models

from .conftest import API_KEY, CHECK_BODY, USAGE_BODY, Harness, json_response, ok_any, sequence

Make = Callable[..., Harness]


def raw_check(h: Harness, **kwargs: object) -> RawResponse[models.CheckResponse]:
    kwargs.setdefault("customer_id", "cus_123")
    kwargs.setdefault("feature_id", "messages")
    if h.loop is None:
        assert isinstance(h.client, Meterly)
        return h.client.balances.with_raw_response.check(**kwargs)  # type: ignore[arg-type]
    assert isinstance(h.client, AsyncMeterly)
    return h.loop.run_until_complete(h.client.balances.with_raw_response.check(**kwargs))  # type: ignore[arg-type]


def test_raw_response_exposes_the_http_exchange(make: Make) -> None:
    h = make(sequence(json_response(200, CHECK_BODY, {"x-request-id": "req_raw"})))
    raw = raw_check(h)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    assert raw.request_id == "req_raw"
    assert isinstance(raw.elapsed, datetime.timedelta)
    assert isinstance(raw.http_response, httpx.Response)
    assert raw.http_response.request.headers["authorization"] == f"Bearer {API_KEY}"
    assert "req_raw" in repr(raw)


def test_parse_returns_the_typed_result_and_parses_only_once(make: Make) -> None:
    h = make(sequence(json_response(200, CHECK_BODY)))
    raw = raw_check(h)
    with mock.patch("meterly._raw.parse_success", wraps=meterly._raw.parse_success) as spy:
        first = raw.parse()
        second = raw.parse()
    assert isinstance(first, models.CheckResponse)
    assert first is second
    assert spy.call_count == 1


def test_a_body_that_does_not_fit_raises_at_parse(make: Make) -> None:
    h = make(sequence(httpx.Response(200, content=b"nope")))
    raw = raw_check(h)
    assert raw.http_response.content == b"nope"
    with pytest.raises(errors.ResponseValidationError):
        raw.parse()


def test_error_statuses_still_raise(make: Make) -> None:
    h = make(sequence(json_response(404, {"message": "no", "code": "customer_not_found"})))
    with pytest.raises(errors.NotFoundError):
        raw_check(h)


def test_retries_happen_before_the_raw_response(make: Make) -> None:
    h = make(sequence(json_response(503, {}), json_response(200, CHECK_BODY)))
    assert raw_check(h).status_code == 200
    assert len(h.requests) == 2


def test_raw_responses_are_never_fallbacks(make: Make) -> None:
    h = make(sequence(json_response(503, {})), fail_open=True, retry_config=None)
    with pytest.raises(errors.InternalServerError):
        raw_check(h)
    assert h.check().is_fallback is True  # the plain call still falls back


def test_usage_with_raw_response_sync_and_async() -> None:
    sync = Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(ok_any)))
    raw = sync.usage.with_raw_response.check(customer_id="c", feature_code="api_calls", quantity=3)
    assert raw.parse().feature_code == USAGE_BODY["data"]["featureCode"]

    async def go() -> models.UsageCheck:
        client = AsyncMeterly(
            api_key=API_KEY, client=httpx.AsyncClient(transport=httpx.MockTransport(ok_any))
        )
        araw = await client.usage.with_raw_response.check(customer_id="c", feature_code="api_calls")
        return araw.parse()

    assert asyncio.run(go()).allowed is True


def test_raw_mode_does_not_leak_into_the_next_call(make: Make) -> None:
    h = make(ok_any)
    raw_check(h)
    assert isinstance(h.check(), models.CheckResponse)
