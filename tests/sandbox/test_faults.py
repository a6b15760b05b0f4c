"""Fault knobs: outages, failures, lost answers and latency, as the SDK's retries and fail-open see them."""

from __future__ import annotations

import logging

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly.sandbox import DEFAULT_API_KEY, Faults, SandboxEngine, SandboxTransport

from .conftest import CHECK, FAST_RETRIES, post


def test_an_outage_raises_server_errors_after_retries(client: Meterly, engine: SandboxEngine) -> None:
    engine.faults.outage = True
    with pytest.raises(errors.InternalServerError) as caught:
        client.balances.check(customer_id="cus_basic", feature_id="messages")
    assert caught.value.status_code == 503
    assert caught.value.code == "service_unavailable"
    assert len(engine.history) > 1  # retried


def test_fail_open_allows_during_an_outage(engine: SandboxEngine, caplog: pytest.LogCaptureFixture) -> None:
    engine.faults.outage = True
    http = httpx.Client(transport=SandboxTransport(engine))
    with (
        Meterly(api_key=DEFAULT_API_KEY, client=http, retry_config=FAST_RETRIES, fail_open=True) as sdk,
        caplog.at_level(logging.WARNING, logger="meterly"),
    ):
        res = sdk.balances.check(customer_id="cus_basic", feature_id="messages")
        usage = sdk.usage.check(customer_id="cus_basic", feature_code="messages")
    assert (res.allowed, res.is_fallback) == (True, True)
    assert (usage.allowed, usage.is_fallback) == (True, True)
    assert "fail_open" in caplog.text
    engine.faults.outage = False
    assert engine.balance("cus_basic", "messages")["usage"] == 0  # type: ignore[index]


def test_a_failed_attempt_is_retried_and_processed_once(client: Meterly, engine: SandboxEngine) -> None:
    # Commet's track, deduplicated by Idempotency-Key: retried through the 503s.
    engine.faults.fail_next(2)
    res = client.usage.track(customer_id="cus_basic", feature_code="messages")
    assert res.customer_id == "cus_basic"
    assert [c.status for c in engine.history] == [503, 503, 200]
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]
    # Autumn's send_event check is not deduplicated: after a 503 it may have been recorded, never resent.
    engine.faults.fail_next(1)
    with pytest.raises(errors.WriteOutcomeUnknownError):
        client.balances.check(customer_id="cus_basic", feature_id="messages", send_event=True)
    assert [c.status for c in engine.history] == [503, 503, 200, 503]


def test_a_lost_answer_is_retried_with_the_same_key_and_deducts_once(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.faults.drop_next()
    res = client.usage.track(customer_id="cus_basic", feature_code="messages", value=3)
    assert res.value == 3
    dropped, replayed = engine.history
    assert (dropped.dropped, replayed.replayed) == (True, True)
    assert dropped.idempotency_key == replayed.idempotency_key
    assert engine.balance("cus_basic", "messages")["usage"] == 3  # type: ignore[index]
    # Autumn's send_event check whose answer is lost: recorded once, never resent, outcome unknown.
    engine.faults.drop_next()
    with pytest.raises(errors.WriteOutcomeUnknownError) as caught:
        client.balances.check(
            customer_id="cus_basic", feature_id="messages", required_balance=2, send_event=True
        )
    assert caught.value.operation == "balancesCheck"
    assert len(engine.history) == 3
    assert engine.balance("cus_basic", "messages")["usage"] == 5  # type: ignore[index]


async def test_a_lost_answer_is_retried_once_by_the_async_client(
    aclient: AsyncMeterly, engine: SandboxEngine
) -> None:
    engine.faults.drop_next()
    res = await aclient.usage.track(customer_id="cus_basic", feature_code="messages")
    assert res.customer_id == "cus_basic"
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_a_lost_commet_answer_is_retried_with_the_same_key_and_recorded_once(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.faults.drop_next()
    event = client.usage.track(customer_id="cus_basic", feature_code="messages", value=3)
    assert event.value == 3
    dropped, replayed = engine.history
    assert (dropped.dropped, replayed.replayed) == (True, True)
    assert dropped.idempotency_key == replayed.idempotency_key
    assert engine.balance("cus_basic", "messages")["usage"] == 3  # type: ignore[index]


def test_a_resent_autumn_check_counts_again_as_on_autumn(engine: SandboxEngine) -> None:
    body = {"customer_id": "cus_basic", "feature_id": "messages", "send_event": True}
    first = post(engine, CHECK, body, idempotency_key="same-key")
    second = post(engine, CHECK, body, idempotency_key="same-key")
    assert (first.status, second.status) == (200, 200)
    assert "idempotent-replayed" not in second.headers
    assert engine.balance("cus_basic", "messages")["usage"] == 2  # type: ignore[index]


def test_a_rate_limit_carries_each_services_code_and_a_retry_after(engine: SandboxEngine) -> None:
    engine.faults.error_status = 429
    engine.faults.retry_after_s = 2
    engine.faults.fail_next(2)
    autumn = post(engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages"})
    commet = post(engine, "/api/v1/usage/check", {"customerId": "cus_basic", "featureCode": "messages"})
    assert (autumn.status, autumn.json()["code"], autumn.headers["retry-after"]) == (
        429,
        "rate_limit_exceeded",
        "2",
    )
    error = commet.json()["error"]
    assert (commet.status, error["code"], error["type"], commet.headers["retry-after"]) == (
        429,
        "rate_limited",
        "rate_limit_error",
        "2",
    )


def test_a_degraded_autumn_answers_checks_202_allowed_without_touching_balances(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.faults.degraded = True
    res = client.balances.check(customer_id="cus_basic", feature_id="messages", send_event=True)
    assert (res.allowed, res.is_degraded, res.balance) == (True, True, None)
    engine.faults.clear()
    assert engine.balance("cus_basic", "messages")["usage"] == 0  # type: ignore[index]


def test_latency_beyond_the_timeout_is_a_timeout(engine: SandboxEngine) -> None:
    engine.faults.latency_ms = 200
    http = httpx.Client(transport=SandboxTransport(engine))
    sdk = Meterly(api_key=DEFAULT_API_KEY, client=http, retry_config=None, timeout_ms=20)
    with pytest.raises(errors.APITimeoutError):
        sdk.balances.check(customer_id="cus_basic", feature_id="messages")
    assert not engine.history  # the request never reached the engine


def test_latency_within_the_timeout_still_answers(client: Meterly, engine: SandboxEngine) -> None:
    engine.faults.latency_ms = 5
    assert client.balances.check(customer_id="cus_basic", feature_id="messages").allowed


def test_error_rate_fails_about_that_share_of_requests(engine: SandboxEngine) -> None:
    engine.faults = Faults(error_rate=0.3, seed=7)
    statuses = [
        post(engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages"}).status for _ in range(400)
    ]
    failures = statuses.count(503)
    assert 80 <= failures <= 160
    assert set(statuses) == {200, 503}


def test_error_status_is_configurable_and_clear_heals(engine: SandboxEngine) -> None:
    engine.faults.error_status = 500
    engine.faults.outage = True
    answer = post(engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages"})
    assert (answer.status, answer.json()["code"]) == (500, "internal_error")
    engine.faults.clear()
    assert post(engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages"}).status == 200
