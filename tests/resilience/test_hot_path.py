"""The hot-path promise, over real sockets: with the default policy and timeouts no call lasts longer
than 2 s in any failure mode, on the sync client and on both async backends.

The defaults give a call 1.5 s (`max_elapsed_time`; attempts are cut to what is left of it), so 2 s
leaves half a second for a slow, shared machine. Without the call deadline the stalls below last 2.5 s
and more, and without the SDK-owned clients' socket deadline the trickled headers last about 5 s.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from meterly import AsyncMeterly, Meterly, errors
from tests.conftest import API_KEY

from .faultserver import Fault, FaultServer, always, fault_server

LIMIT = 2.0
"""The promise: seconds a call may take with the defaults, whatever the server does."""

BACKENDS = ["sync", "httpx", "aiohttp"]


def timed_default_call(backend: str, url: str, **kwargs: Any) -> tuple[float, Any]:
    """balances.check on a fresh client of `backend` with nothing but a key and the server (the
    defaults); returns (seconds taken, result or MeterlyError)."""
    options: dict[str, Any] = {"api_key": API_KEY, "server_url": url, **kwargs}
    outcome: Any
    if backend == "sync":
        with Meterly(**options) as sdk:
            started = time.monotonic()
            try:
                outcome = sdk.balances.check(customer_id="cus_1", feature_id="messages")
            except errors.MeterlyError as exc:
                outcome = exc
            return time.monotonic() - started, outcome

    async def run() -> tuple[float, Any]:
        async with AsyncMeterly(http_backend=backend, **options) as sdk:  # type: ignore[arg-type]
            started = time.monotonic()
            try:
                result: Any = await sdk.balances.check(customer_id="cus_1", feature_id="messages")
            except errors.MeterlyError as exc:
                result = exc
            return time.monotonic() - started, result

    return asyncio.run(run())


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def served(fault: Fault, backend: str, **options: float) -> tuple[float, Any, FaultServer]:
    with fault_server(always(fault), **options) as server:
        took, outcome = timed_default_call(backend, server.url)
    return took, outcome, server


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_refused_connection_ends_within_the_limit(backend: str) -> None:
    took, outcome = timed_default_call(backend, f"http://127.0.0.1:{closed_port()}")
    assert isinstance(outcome, errors.APIConnectionError)
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_connections_end_within_the_limit(backend: str) -> None:
    took, outcome, server = served(Fault.RESET_AFTER_READ, backend)
    assert isinstance(outcome, errors.APIConnectionError)
    assert len(server.received) >= 2  # retried
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_that_never_answers_ends_within_the_limit(backend: str) -> None:
    took, outcome, server = served(Fault.STALL, backend, stall_seconds=10)
    assert isinstance(outcome, errors.APITimeoutError)
    assert len(server.received) >= 2  # the second attempt was cut to what was left
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_trickled_headers_end_within_the_limit(backend: str) -> None:
    # One byte every 50 ms: each read is well inside the 1 s read timeout; the headers take ~5 s.
    took, outcome, _ = served(Fault.SLOW_HEADERS, backend, trickle_seconds=0.05)
    assert isinstance(outcome, errors.APITimeoutError)
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trickled_body_ends_within_the_limit(backend: str) -> None:
    took, outcome, _ = served(Fault.SLOW_BODY, backend, trickle_seconds=0.05)
    assert isinstance(outcome, errors.APITimeoutError)
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_503_storm_ends_within_the_limit(backend: str) -> None:
    took, outcome, server = served(Fault.PLAIN_503, backend)
    assert isinstance(outcome, errors.InternalServerError)
    assert len(server.received) >= 3
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_429_storm_ends_within_the_limit(backend: str) -> None:
    took, outcome, server = served(Fault.RATE_LIMITED_429, backend)
    assert isinstance(outcome, errors.RateLimitError)
    assert len(server.received) >= 3
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_retry_after_longer_than_the_deadline_raises_at_once(backend: str) -> None:
    took, outcome, server = served(Fault.RETRY_LATER_503, backend)
    assert isinstance(outcome, errors.InternalServerError)
    assert len(server.received) == 1
    assert took <= 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_fail_open_answers_a_stalled_server_within_the_limit(backend: str) -> None:
    with fault_server(always(Fault.STALL), stall_seconds=10) as server:
        took, outcome = timed_default_call(backend, server.url, fail_open=True)
    assert (outcome.is_fallback, outcome.fallback_reason) == (True, "timeout")
    assert took <= LIMIT


def test_a_timeout_longer_than_the_deadline_is_kept_for_the_first_attempt_only() -> None:
    # timeout_ms 1.8 s, deadline 1.5 s: the first attempt may use its 1.8 s, and nothing runs after it.
    with fault_server(always(Fault.STALL), stall_seconds=10) as server:
        took, outcome = timed_default_call("sync", server.url, timeout_ms=1_800)
    assert isinstance(outcome, errors.APITimeoutError)
    assert len(server.received) == 1
    assert 1.7 <= took <= 1.8 + 0.5


def test_a_client_passed_in_bounds_a_trickled_body_but_its_headers_only_per_read() -> None:
    # The documented limit: the SDK does not change the transport of an httpx client it was given.
    import httpx

    with (
        fault_server(always(Fault.SLOW_HEADERS), trickle_seconds=0.02) as server,
        httpx.Client(timeout=1.0) as http,
    ):
        sdk = Meterly(api_key=API_KEY, server_url=server.url, client=http, retry_config=None)
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError):
            sdk.balances.check(customer_id="cus_1", feature_id="messages")
        took = time.monotonic() - started
    # About 70 header bytes at 20 ms each: read in full past the 1 s timeout; the body is then cut off.
    assert took >= 1.3
