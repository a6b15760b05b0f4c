"""Autumn's own client (autumn-sdk 1.2.0) records and reserves usage on the served sandbox: track, a
negative track, track_tokens, batch_track, check with a lock then finalize (confirm, release, expiry),
and edge routing with the sandbox as the edge."""

from __future__ import annotations

import time
from typing import Any

import pytest
from autumn_sdk import errors as autumn_errors

from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxEngine

from ..loopback import refused_url
from .conftest import autumn_client


def _usage(autumn: Any, customer_id: str, feature_id: str) -> float:
    balance = autumn.check(customer_id=customer_id, feature_id=feature_id).balance
    assert balance is not None
    return float(balance.usage)


def test_track_records_usage_and_answers_the_balance(autumn: Any) -> None:
    before = _usage(autumn, "cus_pro", "messages")
    res = autumn.track(customer_id="cus_pro", feature_id="messages", value=3)
    assert (res.customer_id, res.value) == ("cus_pro", 3)
    assert res.balance is not None
    assert res.balance.usage == before + 3
    assert _usage(autumn, "cus_pro", "messages") == before + 3


def test_a_negative_track_gives_usage_back(autumn: Any) -> None:
    autumn.track(customer_id="cus_pro", feature_id="messages", value=4)
    before = _usage(autumn, "cus_pro", "messages")
    res = autumn.track(customer_id="cus_pro", feature_id="messages", value=-2)
    assert res.balance is not None
    assert res.balance.usage == before - 2


def test_an_async_track_is_accepted_with_a_null_balance(autumn: Any) -> None:
    res = autumn.track(customer_id="cus_pro", feature_id="messages", value=1, async_=True)
    assert res.balance is None


def test_an_event_name_tracks_every_feature_it_maps_to(autumn: Any) -> None:
    before = (_usage(autumn, "cus_pro", "messages"), _usage(autumn, "cus_pro", "ai_credits"))
    res = autumn.track(customer_id="cus_pro", event_name="chat_message")
    assert res.event_name == "chat_message"
    assert set(res.balances or {}) == {"messages", "ai_credits"}
    assert _usage(autumn, "cus_pro", "messages") == before[0] + 1
    assert _usage(autumn, "cus_pro", "ai_credits") == before[1] + 1


def test_track_tokens_prices_the_model_in_ai_credits(autumn: Any) -> None:
    before = _usage(autumn, "cus_pro", "ai_credits")
    res = autumn.track_tokens(
        customer_id="cus_pro", model_id="openai/gpt-4o-mini", input_tokens=1200, output_tokens=350
    )
    assert res.value == pytest.approx(0.39)  # 1,200 x 150/M + 350 x 600/M credits
    assert res.balance is not None
    assert res.balance.feature_id == "ai_credits"
    assert _usage(autumn, "cus_pro", "ai_credits") == pytest.approx(before + 0.39)


def test_track_tokens_of_an_unknown_model_is_a_404(autumn: Any) -> None:
    with pytest.raises(autumn_errors.AutumnDefaultError) as caught:
        autumn.track_tokens(customer_id="cus_pro", model_id="acme/none", input_tokens=1, output_tokens=1)
    assert caught.value.status_code == 404
    assert '"code":"model_not_found"' in caught.value.body


def test_batch_track_counts_a_resent_event_once(autumn: Any) -> None:
    before = _usage(autumn, "cus_pro", "api_calls")
    events = [
        {"customer_id": "cus_pro", "feature_id": "api_calls", "value": 2, "idempotency_key": "evt-batch-1"},
        {"customer_id": "cus_pro", "feature_id": "api_calls", "value": 3, "idempotency_key": "evt-batch-2"},
    ]
    assert autumn.batch_track(request=events).success is True
    assert autumn.batch_track(request=events).success is True
    assert _usage(autumn, "cus_pro", "api_calls") == before + 5


def test_a_lock_holds_the_balance_until_confirmed(autumn: Any) -> None:
    before = _usage(autumn, "cus_pro", "messages")
    held = autumn.check(
        customer_id="cus_pro",
        feature_id="messages",
        required_balance=5,
        lock={"lock_id": "gen-confirm", "enabled": True},
    )
    assert held.allowed is True
    assert held.balance.usage == before + 5
    assert autumn.balances.finalize(lock_id="gen-confirm", action="confirm", override_value=2).success is True
    assert _usage(autumn, "cus_pro", "messages") == before + 2


def test_a_released_lock_gives_the_balance_back(autumn: Any) -> None:
    before = _usage(autumn, "cus_pro", "messages")
    autumn.check(
        customer_id="cus_pro",
        feature_id="messages",
        required_balance=5,
        lock={"lock_id": "gen-release", "enabled": True},
    )
    assert autumn.balances.finalize(lock_id="gen-release", action="release").success is True
    assert _usage(autumn, "cus_pro", "messages") == before
    with pytest.raises(autumn_errors.AutumnDefaultError) as caught:
        autumn.balances.finalize(lock_id="gen-release", action="confirm")
    assert caught.value.status_code == 404


def test_an_expired_lock_gives_the_balance_back_on_the_sandbox_clock() -> None:
    engine = SandboxEngine.demo()
    with Sandbox(engine) as sandbox, autumn_client(sandbox.url) as autumn:
        before = _usage(autumn, "cus_pro", "messages")
        expires = engine.clock.now_ms() + 60_000
        autumn.check(
            customer_id="cus_pro",
            feature_id="messages",
            required_balance=5,
            lock={"lock_id": "gen-expire", "enabled": True, "expires_at": expires},
        )
        assert _usage(autumn, "cus_pro", "messages") == before + 5
        engine.clock.advance(61)
        assert _usage(autumn, "cus_pro", "messages") == before
        with pytest.raises(autumn_errors.AutumnDefaultError):
            autumn.balances.finalize(lock_id="gen-expire", action="confirm")


def test_edge_routing_asks_the_sandbox_as_the_edge_first() -> None:
    engine = SandboxEngine.demo()
    with Sandbox(engine) as edge:
        import autumn_sdk

        client = autumn_sdk.Autumn(
            secret_key=DEFAULT_API_KEY,
            server_url=refused_url(),
            edge_url=edge.url,
            use_edge=True,
            retry_config=None,
            fail_open=False,
        )
        with client:
            res = client.check(customer_id="cus_pro", feature_id="messages")
    assert res.allowed is True
    assert [call.path for call in engine.history] == ["/v1/balances.check"]


def test_edge_routing_falls_back_to_the_api_when_the_edge_is_down() -> None:
    engine = SandboxEngine.demo()
    with Sandbox(engine) as api:
        import autumn_sdk

        client = autumn_sdk.Autumn(
            secret_key=DEFAULT_API_KEY,
            server_url=api.url,
            edge_url=refused_url(),
            retry_config=None,
            fail_open=False,
        )
        with client:
            started = time.monotonic()
            res = client.edge.check(customer_id="cus_pro", feature_id="messages")
            elapsed = time.monotonic() - started
            tracked = client.edge.track(customer_id="cus_pro", feature_id="messages", value=1)
    assert res.allowed is True
    assert elapsed < 2
    assert tracked.value == 1  # a write never goes to the edge
    assert [call.path for call in engine.history] == ["/v1/balances.check", "/v1/balances.track"]
