"""usage.track on the wire: path, auth, version, camelCase body, the envelope's data, and a write's rules
(retries with one Idempotency-Key, never a fail-open answer)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
import pytest

from meterly import errors, models

from .conftest import API_KEY, Harness, json_response, sequence

Make = Callable[..., Harness]

EVENT: dict[str, Any] = {
    "id": "evt_1",
    "featureCode": "api_calls",
    "value": 3,
    "customerId": "cus_pro",
    "eventId": None,
    "ts": "2026-12-01T09:30:00.000Z",
    "createdAt": "2026-12-01T09:30:00.120Z",
    "properties": [{"property": "model", "value": "gpt-5"}],
    "consumption": {"model": "credits", "deducted": 15, "remaining": 985, "blocked": False},
    "object": "usage_event",
    "livemode": False,
}


def ok_track(request: httpx.Request) -> httpx.Response:
    return json_response(200, {"success": True, "data": EVENT})


def track(h: Harness, **kwargs: Any) -> Any:
    kwargs.setdefault("customer_id", "cus_pro")
    kwargs.setdefault("feature_code", "api_calls")
    return h.call("usage.track", **kwargs)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_track_posts_camel_case_to_the_events_path_with_commet_s_auth_and_version(make: Make) -> None:
    h = make(ok_track)
    event = track(h, value=3, event_id="evt_mine", properties={"model": "gpt-5", "region": "eu"})
    (request,) = h.requests
    assert (request.method, str(request.url)) == ("POST", "https://api.meterly.dev/v1/usage/events")
    assert request.headers["x-api-key"] == API_KEY
    assert "authorization" not in request.headers
    assert request.headers["commet-version"] == "2026-08-27"
    assert body_of(request) == {
        "customerId": "cus_pro",
        "featureCode": "api_calls",
        "value": 3,
        "eventId": "evt_mine",
        "properties": [{"property": "model", "value": "gpt-5"}, {"property": "region", "value": "eu"}],
    }
    assert isinstance(event, models.UsageEvent)
    assert event.consumption is not None
    assert (event.consumption.model, event.consumption.deducted) == ("credits", 15)
    assert event.properties == [models.UsageEventProperty(property="model", value="gpt-5")]


def test_value_defaults_to_one_and_none_is_left_out(make: Make) -> None:
    h = make(ok_track)
    track(h)
    assert body_of(h.requests[0]) == {"customerId": "cus_pro", "featureCode": "api_calls", "value": 1}


def test_a_timestamp_is_sent_as_iso_8601(make: Make) -> None:
    h = make(ok_track)
    track(h, timestamp=datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc))
    track(h, timestamp="2026-12-01T09:30:00Z")
    assert [body_of(r)["timestamp"] for r in h.requests] == [
        "2026-12-01T09:30:00+00:00",
        "2026-12-01T09:30:00Z",
    ]


def test_the_api_version_of_the_usage_resource_applies_to_track(make: Make) -> None:
    h = make(ok_track, api_versions={"usage": "2026-07-31"})
    track(h)
    assert h.requests[0].headers["commet-version"] == "2026-07-31"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"value": float("nan")}, "value"),
        ({"value": True}, "value"),
        ({"value": "3"}, "value"),
        ({"customer_id": ""}, "customer_id"),
        ({"feature_code": "api\r\ncalls"}, "feature_code"),
        ({"event_id": ""}, "event_id"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1764581400}, "timestamp"),
        ({"properties": {"model": 5}}, "properties"),
        ({"properties": ["model"]}, "properties"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(make: Make, kwargs: dict[str, Any], param: str) -> None:
    h = make(ok_track)
    with pytest.raises(errors.RequestValidationError) as caught:
        track(h, **kwargs)
    assert caught.value.param == param
    assert h.requests == []


def test_a_bad_property_value_names_its_key(make: Make) -> None:
    h = make(ok_track)
    with pytest.raises(errors.RequestValidationError) as caught:
        track(h, properties={"plan": "pro", "seats": 5})
    assert caught.value.param == "properties"
    assert str(caught.value) == "properties['seats']: Input should be a valid string"
    assert h.requests == []


def test_the_ai_token_fields_go_on_the_wire_in_camel_case(make: Make) -> None:
    h = make(ok_track)
    track(h, model="gpt-4o", input_tokens=120, output_tokens=30, cache_read_tokens=100, cache_write_tokens=0)
    body = json.loads(h.requests[0].content)
    assert body["model"] == "gpt-4o"
    assert (body["inputTokens"], body["outputTokens"]) == (120, 30)
    assert (body["cacheReadTokens"], body["cacheWriteTokens"]) == (100, 0)


@pytest.mark.parametrize("kwargs", [{"input_tokens": -1}, {"output_tokens": 1.5}, {"model": ""}])
def test_bad_token_fields_are_refused_before_any_request(make: Make, kwargs: dict[str, Any]) -> None:
    h = make(ok_track)
    with pytest.raises(errors.RequestValidationError) as caught:
        track(h, **kwargs)
    assert caught.value.param == next(iter(kwargs))
    assert h.requests == []


def test_retries_send_the_same_idempotency_key_so_the_event_is_recorded_once(make: Make) -> None:
    recorded = json_response(200, {"success": True, "data": EVENT})
    h = make(sequence(json_response(503, {"success": False}), httpx.ConnectError("reset"), recorded))
    assert track(h).id == "evt_1"
    keys = {request.headers["idempotency-key"] for request in h.requests}
    assert len(h.requests) == 3
    assert len(keys) == 1


@pytest.mark.parametrize(
    "failure",
    [json_response(503, {"success": False}), httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["5xx", "connection", "timeout"],
)
def test_a_write_is_never_answered_by_fail_open(make: Make, failure: Any) -> None:
    h = make(sequence(failure), fail_open=True, retry_config=None)
    with pytest.raises((errors.InternalServerError, errors.APIConnectionError)):
        track(h)
    assert len(h.requests) == 1


def test_with_raw_response_gives_the_http_response_and_parses_the_data(make: Make) -> None:
    h = make(ok_track)
    raw = h.call("usage.with_raw_response.track", customer_id="cus_pro", feature_code="api_calls")
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "req_test"
    assert raw.parse().id == "evt_1"
