"""Retries end to end with a fake clock: what is retried, how often, how long, with which key."""

from __future__ import annotations

from typing import Callable

import httpx
import pytest

from meterly import errors
from meterly.utils import BackoffStrategy, RetryConfig

from .conftest import CHECK_BODY, FakeClock, Harness, json_response, sequence

Make = Callable[..., Harness]
OK = json_response(200, CHECK_BODY)
FAST = RetryConfig("backoff", BackoffStrategy(100, 400, 2.0, 2_000), True)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_until_success(make: Make, status: int) -> None:
    h = make(sequence(json_response(status, {"message": "busy"}), json_response(status, {}), OK))
    assert h.check().allowed is True
    assert len(h.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_other_statuses_are_never_retried(make: Make, status: int) -> None:
    h = make(sequence(json_response(status, {"message": "no"}), OK))
    with pytest.raises(errors.APIError):
        h.check()
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.RemoteProtocolError("closed")]
)
def test_connection_errors_are_retried(make: Make, exc: Exception) -> None:
    h = make(sequence(exc, OK))
    assert h.check().allowed is True
    assert len(h.requests) == 2


def test_timeouts_are_retried(make: Make) -> None:
    h = make(sequence(httpx.ReadTimeout("slow"), OK))
    assert h.check().allowed is True
    assert len(h.requests) == 2


def test_connection_errors_are_not_retried_when_switched_off(make: Make) -> None:
    h = make(
        sequence(httpx.ConnectError("refused"), OK), retry_config=RetryConfig(retry_connection_errors=False)
    )
    with pytest.raises(errors.APIConnectionError):
        h.check()
    assert len(h.requests) == 1


def test_every_attempt_of_a_call_carries_the_same_idempotency_key(make: Make) -> None:
    # A read: Autumn's send_event check is never resent once it may have arrived (test_write_outcomes).
    h = make(sequence(httpx.ReadError("reset"), json_response(503, {}), OK))
    h.check()
    keys = {r.headers["idempotency-key"] for r in h.requests}
    assert len(h.requests) == 3
    assert len(keys) == 1


def test_the_callers_key_is_reused_on_every_retry(make: Make) -> None:
    h = make(sequence(json_response(502, {}), OK))
    h.check(idempotency_key="evt-1")
    assert [r.headers["idempotency-key"] for r in h.requests] == ["evt-1", "evt-1"]


def test_the_body_is_identical_on_every_retry(make: Make) -> None:
    h = make(sequence(json_response(500, {}), OK))
    h.check(required_balance=3, with_preview=True)
    assert h.requests[0].content == h.requests[1].content


def test_backoff_sleeps_grow_and_are_jittered(make: Make, clock: FakeClock) -> None:
    h = make(
        sequence(json_response(503, {}), json_response(503, {}), json_response(503, {}), OK),
        retry_config=FAST,
    )
    h.check()
    # random() is pinned to 0.5: each wait is 3/4 of min(max_interval, initial * exponent**n).
    assert clock.sleeps == pytest.approx([0.075, 0.15, 0.3])


def test_retries_stop_at_max_elapsed_time_and_raise_the_last_error(make: Make, clock: FakeClock) -> None:
    h = make(sequence(json_response(503, {"message": "down"})), retry_config=FAST)
    with pytest.raises(errors.InternalServerError, match="down"):
        h.check()
    assert sum(clock.sleeps) <= 2.0
    assert len(h.requests) == len(clock.sleeps) + 1
    assert len(h.requests) >= 5


def test_retry_after_is_honoured(make: Make, clock: FakeClock) -> None:
    h = make(sequence(json_response(429, {}, {"retry-after": "1.5"}), OK), retry_config=FAST)
    h.check()
    assert clock.sleeps == [1.5]


def test_retry_after_ms_is_honoured(make: Make, clock: FakeClock) -> None:
    h = make(sequence(json_response(503, {}, {"retry-after-ms": "40"}), OK), retry_config=FAST)
    h.check()
    assert clock.sleeps == [0.04]


def test_a_retry_after_longer_than_the_time_left_raises_at_once(make: Make, clock: FakeClock) -> None:
    h = make(sequence(json_response(429, {"message": "later"}, {"retry-after": "60"}), OK), retry_config=FAST)
    with pytest.raises(errors.RateLimitError) as info:
        h.check()
    assert info.value.retry_after == 60.0
    assert clock.sleeps == []
    assert len(h.requests) == 1


def test_retry_config_none_never_retries(make: Make) -> None:
    h = make(sequence(json_response(503, {}), OK), retry_config=None)
    with pytest.raises(errors.InternalServerError):
        h.check()
    assert len(h.requests) == 1


def test_per_call_retries_override_the_clients(make: Make) -> None:
    h = make(sequence(json_response(503, {}), OK), retry_config=None)
    assert h.check(retries=FAST).allowed is True
    assert len(h.requests) == 2
    h2 = make(sequence(json_response(503, {}), OK))
    with pytest.raises(errors.InternalServerError):
        h2.check(retries=None)
    assert len(h2.requests) == 1


def test_a_slow_attempt_counts_against_max_elapsed_time(make: Make, clock: FakeClock) -> None:
    def slow_failure(request: httpx.Request) -> httpx.Response:
        clock.now += 1.5  # each attempt takes 1.5 s of the 2 s budget
        return json_response(503, {})

    h = make(slow_failure, retry_config=FAST)
    with pytest.raises(errors.InternalServerError):
        h.check()
    assert len(h.requests) == 2
