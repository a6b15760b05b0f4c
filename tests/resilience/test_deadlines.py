"""One deadline per call, over real sockets: every attempt, backoff and Retry-After sleep included, a
call ends within the longer of `max_elapsed_time` and its first attempt's timeout, sync and async (later
attempts are cut to what is left of the deadline).

The bounds below carry a fixed allowance for a slow, shared machine (`SLACK`); what they rule out is a
call that runs for the stall or trickle the server is scripted to do (several seconds).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors
from meterly.utils import BackoffStrategy, RetryConfig
from tests.conftest import API_KEY

from .faultserver import Fault, FaultServer, always, fault_server

SLACK = 0.6
TIMEOUT_MS = 150
MAX_ELAPSED_MS = 600
RETRIES = RetryConfig(
    backoff=BackoffStrategy(initial_interval=20, max_interval=80, max_elapsed_time=MAX_ELAPSED_MS)
)
BOUND = max(MAX_ELAPSED_MS, TIMEOUT_MS) / 1000 + SLACK


def timed_call(mode: str, server: FaultServer, **kwargs: Any) -> tuple[float, Any]:
    """Calls balances.check on a fresh client of `mode`; returns (seconds taken, result or exception)."""
    options: dict[str, Any] = {"api_key": API_KEY, "server_url": server.url, "timeout_ms": TIMEOUT_MS}
    options.update(kwargs)
    started = time.monotonic()
    outcome: Any
    if mode == "sync":
        with Meterly(**options) as sdk:
            try:
                outcome = sdk.balances.check(customer_id="cus_1", feature_id="messages")
            except errors.MeterlyError as exc:
                outcome = exc
    else:

        async def run() -> Any:
            async with AsyncMeterly(**options) as sdk:
                try:
                    return await sdk.balances.check(customer_id="cus_1", feature_id="messages")
                except errors.MeterlyError as exc:
                    return exc

        outcome = asyncio.run(run())
    return time.monotonic() - started, outcome


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stalling_server_is_given_up_on_within_the_call_deadline(mode: str) -> None:
    with fault_server(always(Fault.STALL), stall_seconds=5) as server:
        took, outcome = timed_call(mode, server, retry_config=RETRIES)
    assert isinstance(outcome, errors.APITimeoutError)
    assert len(server.received) >= 2  # it did retry
    assert took <= BOUND


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_body_trickling_in_is_cut_off_at_the_attempt_timeout(mode: str) -> None:
    # One byte every 20 ms: each read is well inside the read timeout, the body would take ~10 s.
    with fault_server(always(Fault.SLOW_BODY), trickle_seconds=0.02) as server:
        took, outcome = timed_call(mode, server, retry_config=None)
    assert isinstance(outcome, errors.APITimeoutError)
    assert took <= TIMEOUT_MS / 1000 + SLACK


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_trickling_bodies_with_retries_end_within_the_call_deadline(mode: str) -> None:
    with fault_server(always(Fault.SLOW_BODY), trickle_seconds=0.02) as server:
        took, outcome = timed_call(mode, server, retry_config=RETRIES)
    assert isinstance(outcome, errors.APITimeoutError)
    assert len(server.received) >= 2
    assert took <= BOUND


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_429_storm_with_short_retry_after_ends_within_the_call_deadline(mode: str) -> None:
    with fault_server(always(Fault.RATE_LIMITED_429)) as server:
        took, outcome = timed_call(mode, server, retry_config=RETRIES)
    assert isinstance(outcome, errors.RateLimitError)
    assert outcome.retry_after == pytest.approx(0.005)
    assert len(server.received) >= 3
    assert took <= BOUND


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fail_open_answers_within_the_call_deadline_when_the_server_stalls(mode: str) -> None:
    with fault_server(always(Fault.STALL), stall_seconds=5) as server:
        took, outcome = timed_call(
            mode, server, retry_config=RETRIES, fail_open=FailOpenPolicy(default="deny")
        )
    assert outcome.is_fallback is True
    assert outcome.fallback_reason == "timeout"
    assert outcome.allowed is False
    assert took <= BOUND


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_healthy_body_is_not_cut_by_the_deadline(mode: str) -> None:
    with fault_server(always(Fault.OK)) as server:
        _, outcome = timed_call(mode, server, retry_config=None)
    assert outcome.allowed is True
    assert outcome.is_fallback is False
