"""The retry policy as pure functions: backoff, Retry-After parsing, and the give-up rule."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from meterly._config import DEFAULT_TIMEOUT_MS
from meterly.utils import BackoffStrategy, RetryConfig
from meterly.utils.retries import DEFAULT_RETRY_CONFIG, backoff_delay, retry_after_seconds, retry_delay

POLICY = RetryConfig("backoff", BackoffStrategy(100, 1_000, 2.0, 5_000), True)


@pytest.mark.parametrize(("attempt", "base"), [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)])
def test_backoff_grows_exponentially_up_to_max_interval(attempt: int, base: float) -> None:
    assert backoff_delay(POLICY.backoff, attempt, rand=lambda: 0.0) == pytest.approx(base / 2)
    assert backoff_delay(POLICY.backoff, attempt, rand=lambda: 1.0) == pytest.approx(base)


def test_backoff_is_jittered_between_half_and_full_interval() -> None:
    delays = {backoff_delay(POLICY.backoff, 3) for _ in range(50)}
    assert len(delays) > 1
    assert all(0.2 <= d <= 0.4 for d in delays)


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after": "3"})) == 3.0
    date = email.utils.formatdate(1_000_020, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"retry-after": date}), now=lambda: 1_000_000) == 20.0
    past = email.utils.formatdate(999_000, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"retry-after": past}), now=lambda: 1_000_000) == 0.0


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", ""])
def test_unusable_retry_after_is_ignored(value: str) -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after": value})) is None
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": value})) is None


def test_no_retry_without_policy_or_when_not_retryable() -> None:
    assert retry_delay(None, 1, 0.0, retryable=True) is None
    assert retry_delay(POLICY, 1, 0.0, retryable=False) is None


def test_retry_uses_backoff_when_server_asks_nothing() -> None:
    assert retry_delay(POLICY, 2, 0.0, retryable=True, rand=lambda: 0.5) == pytest.approx(0.15)


def test_retry_honours_the_server_requested_wait() -> None:
    assert retry_delay(POLICY, 1, 0.0, retryable=True, requested=2.0) == 2.0


def test_no_wait_may_end_past_max_elapsed_time() -> None:
    assert retry_delay(POLICY, 1, 4.0, retryable=True, requested=0.9) == 0.9
    assert retry_delay(POLICY, 1, 4.0, retryable=True, requested=1.1) is None
    assert retry_delay(POLICY, 1, 4.96, retryable=True, rand=lambda: 0.0) is None


def test_default_policy_is_on_and_bounded() -> None:
    backoff = DEFAULT_RETRY_CONFIG.backoff
    assert DEFAULT_RETRY_CONFIG.retry_connection_errors is True
    assert (backoff.initial_interval, backoff.max_interval, backoff.exponent, backoff.max_elapsed_time) == (
        100,
        500,
        2.0,
        1_500,
    )


def test_the_default_call_deadline_and_attempt_timeout_fit_a_hot_path() -> None:
    # The call's deadline is max_elapsed_time (attempts are cut to it); one attempt alone stays under it.
    assert DEFAULT_RETRY_CONFIG.backoff.max_elapsed_time <= 2_000
    assert DEFAULT_RETRY_CONFIG.backoff.max_elapsed_time >= DEFAULT_TIMEOUT_MS


@pytest.mark.parametrize(
    "kwargs",
    [{"initial_interval": -1}, {"max_interval": "5"}, {"exponent": 0.5}, {"max_elapsed_time": True}],
)
def test_bad_backoff_values_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="BackoffStrategy"):
        BackoffStrategy(**kwargs)  # type: ignore[arg-type]


def test_only_the_backoff_strategy_exists() -> None:
    with pytest.raises(ValueError, match="strategy"):
        RetryConfig("linear")  # type: ignore[arg-type]


def test_max_retries_gives_up_after_that_many_retries() -> None:
    capped = RetryConfig(max_retries=2)
    assert retry_delay(capped, 1, 0.0, retryable=True, rand=lambda: 0.5) is not None
    assert retry_delay(capped, 2, 0.0, retryable=True, rand=lambda: 0.5) is not None
    assert retry_delay(capped, 3, 0.0, retryable=True, rand=lambda: 0.5) is None
    assert retry_delay(RetryConfig(max_retries=0), 1, 0.0, retryable=True) is None


@pytest.mark.parametrize("count", [-1, 1.5, True, "2"])
def test_bad_max_retries_are_rejected(count: object) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryConfig(max_retries=count)  # type: ignore[arg-type]
