"""Autumn's recording operations on the wire, sync and async, answered by the in-process sandbox:
`balances.track`, `track_tokens`, `batch_track`, `check(lock=...)` and `finalize` (path, auth, version
pin, body, answer) and their argument checks before any I/O."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
import pytest

from meterly import Meterly, errors, models
from meterly.sandbox import DEFAULT_API_KEY, SandboxEngine, SandboxTransport

from .conftest import Harness, json_response

Make = Callable[..., Harness]


@pytest.fixture
def engine() -> SandboxEngine:
    return SandboxEngine.demo()


@pytest.fixture
def sandbox(make: Make, engine: SandboxEngine) -> Harness:
    """A client of the parametrized kind whose every request the demo sandbox answers."""
    transport = SandboxTransport(engine)
    return make(transport.handle_request, api_key=DEFAULT_API_KEY)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def usage_of(engine: SandboxEngine, customer_id: str, feature_id: str) -> float:
    balance = engine.balance(customer_id, feature_id)
    assert balance is not None
    return float(balance["usage"])


# -- balances.track ------------------------------------------------------------------------------------


def test_track_posts_snake_case_with_bearer_auth_and_the_2_3_0_pin(
    sandbox: Harness, engine: SandboxEngine
) -> None:
    before = usage_of(engine, "cus_pro", "messages")
    res = sandbox.call("balances.track", customer_id="cus_pro", feature_id="messages", value=2)
    (request,) = sandbox.requests
    assert (request.method, request.url.path) == ("POST", "/v1/balances.track")
    assert request.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert request.headers["x-api-version"] == "2.3.0"
    assert body_of(request) == {"customer_id": "cus_pro", "feature_id": "messages", "value": 2}
    assert isinstance(res, models.TrackResponse)
    assert res.customer_id == "cus_pro"
    assert res.balance is not None
    assert res.balance.usage == before + 2
    assert usage_of(engine, "cus_pro", "messages") == before + 2


def test_track_sends_async_under_its_wire_name_and_a_datetime_as_unix_ms(sandbox: Harness) -> None:
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    res = sandbox.call(
        "balances.track", customer_id="cus_pro", event_name="chat_message", timestamp=when, async_=True
    )
    assert body_of(sandbox.requests[0]) == {
        "customer_id": "cus_pro",
        "event_name": "chat_message",
        "timestamp": 1767225600000,
        "async": True,
    }
    assert res.balance is None  # queued: the service answered 202 before recording
    assert res.event_name == "chat_message"


def test_track_takes_unix_ms_as_given(sandbox: Harness) -> None:
    sandbox.call("balances.track", customer_id="cus_pro", feature_id="messages", timestamp=1767225600123)
    assert body_of(sandbox.requests[0])["timestamp"] == 1767225600123


def test_a_negative_track_gives_usage_back(sandbox: Harness, engine: SandboxEngine) -> None:
    before = usage_of(engine, "cus_pro", "messages")
    sandbox.call("balances.track", customer_id="cus_pro", feature_id="messages", value=-1)
    assert usage_of(engine, "cus_pro", "messages") == before - 1


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({}, "feature_id"),  # neither feature_id nor event_name
        ({"feature_id": "messages", "event_name": "chat_message"}, "event_name"),  # both
        ({"feature_id": ""}, "feature_id"),
        ({"feature_id": "messages", "value": float("nan")}, "value"),
        ({"feature_id": "messages", "timestamp": "2026-01-01"}, "timestamp"),
        ({"feature_id": "messages", "timestamp": True}, "timestamp"),
        ({"feature_id": "messages", "timestamp": -1}, "timestamp"),
        ({"feature_id": "messages", "overage_behavior": "spill"}, "overage_behavior"),
        ({"feature_id": "messages", "async_": "yes"}, "async_"),
    ],
)
def test_bad_track_arguments_are_refused_before_any_request(
    sandbox: Harness, kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        sandbox.call("balances.track", customer_id="cus_pro", **kwargs)
    assert caught.value.param == param
    assert sandbox.requests == []


def test_the_api_version_of_the_balances_resource_moves_track_too(make: Make) -> None:
    answer = {"customer_id": "cus_pro", "value": 1, "balance": None}
    h = make(lambda request: json_response(200, answer), api_versions={"balances": "2.5.0"})
    h.call("balances.track", customer_id="cus_pro", feature_id="messages")
    assert h.requests[0].headers["x-api-version"] == "2.5.0"


# -- balances.track_tokens -----------------------------------------------------------------------------


def test_track_tokens_is_priced_by_model(sandbox: Harness, engine: SandboxEngine) -> None:
    before = usage_of(engine, "cus_pro", "ai_credits")
    res = sandbox.call(
        "balances.track_tokens",
        customer_id="cus_pro",
        model_id="openai/gpt-4o-mini",
        input_tokens=1000,
        output_tokens=500,
    )
    (request,) = sandbox.requests
    assert request.url.path == "/v1/balances.track_tokens"
    assert request.headers["x-api-version"] == "2.3.0"
    assert body_of(request) == {
        "customer_id": "cus_pro",
        "model_id": "openai/gpt-4o-mini",
        "input_tokens": 1000,
        "output_tokens": 500,
    }
    # 1,000 input tokens at 150 and 500 output tokens at 600 credits per million
    assert res.value == pytest.approx(0.45)
    assert usage_of(engine, "cus_pro", "ai_credits") == pytest.approx(before + 0.45)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": 1.5}, "output_tokens"),
        ({"model_id": ""}, "model_id"),
    ],
)
def test_bad_token_counts_are_refused_before_any_request(
    sandbox: Harness, kwargs: dict[str, Any], param: str
) -> None:
    arguments = {
        "customer_id": "cus_pro",
        "model_id": "openai/gpt-4o-mini",
        "input_tokens": 1,
        "output_tokens": 1,
    }
    with pytest.raises(errors.RequestValidationError) as caught:
        sandbox.call("balances.track_tokens", **{**arguments, **kwargs})
    assert caught.value.param == param
    assert sandbox.requests == []


# -- balances.batch_track ------------------------------------------------------------------------------


def test_batch_track_posts_a_json_array_with_a_key_for_every_event(
    sandbox: Harness, engine: SandboxEngine
) -> None:
    before = usage_of(engine, "cus_pro", "messages")
    res = sandbox.call(
        "balances.batch_track",
        events=[
            {"customer_id": "cus_pro", "feature_id": "messages", "value": 2},
            models.TrackEvent(customer_id="cus_pro", feature_id="messages", idempotency_key="mine-1"),
        ],
    )
    (request,) = sandbox.requests
    assert request.url.path == "/v1/balances.batch_track"
    assert request.headers["x-api-version"] == "2.5.0"
    first, second = body_of(request)
    assert first["idempotency_key"]  # filled in by the SDK
    assert {k: v for k, v in first.items() if k != "idempotency_key"} == {
        "customer_id": "cus_pro",
        "feature_id": "messages",
        "value": 2,
    }
    assert second == {"customer_id": "cus_pro", "feature_id": "messages", "idempotency_key": "mine-1"}
    assert res == models.BatchTrackResponse(success=True)
    assert usage_of(engine, "cus_pro", "messages") == before + 3


def test_batch_track_takes_its_events_by_position_as_api_md_writes_it(engine: SandboxEngine) -> None:
    with Meterly(
        api_key=DEFAULT_API_KEY,
        server_url="http://sandbox",
        client=httpx.Client(transport=SandboxTransport(engine)),
    ) as client:
        res = client.balances.batch_track([{"customer_id": "cus_pro", "feature_id": "messages", "value": 1}])
    assert res == models.BatchTrackResponse(success=True)


def test_a_resent_batch_carries_the_same_keys_and_counts_once(make: Make, engine: SandboxEngine) -> None:
    transport = SandboxTransport(engine)
    failed = [False]

    def once_lost(request: httpx.Request) -> httpx.Response:
        answer = transport.handle_request(request)
        if not failed[0]:  # recorded, then the answer is lost in a 503 from a proxy
            failed[0] = True
            return json_response(503, {"message": "upstream", "code": "unavailable"})
        return answer

    h = make(once_lost, api_key=DEFAULT_API_KEY)
    before = usage_of(engine, "cus_pro", "messages")
    h.call("balances.batch_track", events=[{"customer_id": "cus_pro", "feature_id": "messages"}])
    assert len(h.requests) == 2
    assert h.requests[0].content == h.requests[1].content
    assert usage_of(engine, "cus_pro", "messages") == before + 1


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([], "at least 1 item"),
        ([{"customer_id": "cus_pro", "feature_id": "messages"}] * 1001, "at most 1000 items"),
        ([{"customer_id": "cus_pro"}], "events[0]: give exactly one of `feature_id` and `event_name`"),
        ([{"customer_id": "cus_pro", "feature_id": "messages", "value": "2x"}], "events[0].value"),
        ({"customer_id": "cus_pro", "feature_id": "messages"}, "must be a sequence"),
        ("cus_pro", "must be a sequence"),
        ([3], "events[0]"),
    ],
)
def test_bad_events_are_refused_before_any_request(sandbox: Harness, events: Any, problem: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        sandbox.call("balances.batch_track", events=events)
    assert caught.value.param == "events"
    assert problem in str(caught.value)
    assert sandbox.requests == []


def test_batch_track_has_a_raw_response_with_its_202(sandbox: Harness) -> None:
    raw = sandbox.call(
        "balances.with_raw_response.batch_track",
        events=[{"customer_id": "cus_pro", "feature_id": "messages"}],
    )
    assert raw.status_code == 202
    assert raw.parse() == models.BatchTrackResponse(success=True)


# -- check(lock=...) and finalize ----------------------------------------------------------------------


@pytest.mark.parametrize("lock", [{"lock_id": "gen_1"}, models.Lock(lock_id="gen_1")], ids=["dict", "model"])
def test_a_lock_holds_the_balance_until_finalize_confirms_it(
    sandbox: Harness, engine: SandboxEngine, lock: Any
) -> None:
    before = usage_of(engine, "cus_pro", "messages")
    held = sandbox.call(
        "balances.check", customer_id="cus_pro", feature_id="messages", required_balance=3, lock=lock
    )
    assert held.allowed
    assert body_of(sandbox.requests[0])["lock"] == {"lock_id": "gen_1", "enabled": True}
    res = sandbox.call("balances.finalize", lock_id="gen_1", action="confirm", override_value=2)
    request = sandbox.requests[1]
    assert (request.url.path, request.headers["x-api-version"]) == ("/v1/balances.finalize", "2.3.0")
    assert body_of(request) == {"lock_id": "gen_1", "action": "confirm", "override_value": 2}
    assert res == models.FinalizeResponse(success=True)
    assert usage_of(engine, "cus_pro", "messages") == before + 2


def test_a_released_lock_gives_the_balance_back(sandbox: Harness, engine: SandboxEngine) -> None:
    before = usage_of(engine, "cus_pro", "messages")
    sandbox.call(
        "balances.check",
        customer_id="cus_pro",
        feature_id="messages",
        required_balance=3,
        lock={"lock_id": "g2"},
    )
    sandbox.call("balances.finalize", lock_id="g2", action="release")
    assert usage_of(engine, "cus_pro", "messages") == before
    with pytest.raises(errors.NotFoundError):  # finalized once: the lock is gone
        sandbox.call("balances.finalize", lock_id="g2", action="release")


@pytest.mark.parametrize(
    ("call", "kwargs", "param"),
    [
        ("balances.finalize", {"lock_id": "g", "action": "commit"}, "action"),
        ("balances.finalize", {"lock_id": "", "action": "confirm"}, "lock_id"),
        ("balances.finalize", {"lock_id": "g", "action": "confirm", "override_value": -1}, "override_value"),
        ("balances.check", {"customer_id": "c", "feature_id": "f", "lock": {"enabled": True}}, "lock"),
        (
            "balances.check",
            {"customer_id": "c", "feature_id": "f", "lock": {"lock_id": "g", "enabled": False}},
            "lock",
        ),
        ("balances.check", {"customer_id": "c", "feature_id": "f", "lock": "g"}, "lock"),
    ],
)
def test_bad_lock_and_finalize_arguments_are_refused_before_any_request(
    sandbox: Harness, call: str, kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        sandbox.call(call, **kwargs)
    assert caught.value.param == param
    assert sandbox.requests == []


# -- usage.track's token fields --------------------------------------------------------------------------


def test_usage_track_leaves_its_default_value_out_when_tokens_are_priced_by_model(sandbox: Harness) -> None:
    tokens = {"model": "openai/gpt-4o-mini", "input_tokens": 1000, "output_tokens": 500}
    event = sandbox.call("usage.track", customer_id="cus_pro", feature_code="chat", **tokens)
    assert body_of(sandbox.requests[0]) == {
        "customerId": "cus_pro",
        "featureCode": "chat",
        "model": "openai/gpt-4o-mini",
        "inputTokens": 1000,
        "outputTokens": 500,
    }
    assert isinstance(event, models.UsageEvent)


def test_usage_track_sends_a_value_the_caller_chose_beside_a_model(make: Make) -> None:
    h = make(lambda request: json_response(400, {"success": False, "error": {"code": "validation_error"}}))
    with pytest.raises(errors.BadRequestError):
        h.call("usage.track", customer_id="cus_pro", feature_code="ai_tokens", value=5, model="m")
    assert body_of(h.requests[0])["value"] == 5  # the service says no, not the SDK behind the caller's back


def test_track_takes_properties_as_any_mapping(sandbox: Harness) -> None:
    from types import MappingProxyType

    sandbox.call(
        "balances.track", customer_id="cus_pro", feature_id="messages", properties=MappingProxyType({"n": 1})
    )
    assert body_of(sandbox.requests[0])["properties"] == {"n": 1}
