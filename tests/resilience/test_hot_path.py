"""The hot-path promise, over real sockets: with the default policy and timeouts no call lasts longer
than 2 s in any failure mode, on the sync client and on both async backends.

The defaults give a call 1.5 s (`max_elapsed_time`; attempts are cut to what is left of it), so 2 s
leaves half a second for a slow, shared machine. Without the call deadline the stalls below last 2.5 s
and more, and without the SDK-owned clients' socket deadline the trickled headers last about 5 s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest

from meterly import AsyncMeterly, Meterly, errors
from tests.conftest import API_KEY

from ..loopback import refused_url
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


def served(fault: Fault, backend: str, **options: float) -> tuple[float, Any, FaultServer]:
    with fault_server(always(fault), **options) as server:
        took, outcome = timed_default_call(backend, server.url)
    return took, outcome, server


def refused(backend: str) -> tuple[float, Any, None]:
    took, outcome = timed_default_call(backend, refused_url())
    return took, outcome, None


def stalled_with_fail_open(backend: str) -> tuple[float, Any, FaultServer]:
    with fault_server(always(Fault.STALL), stall_seconds=10) as server:
        took, outcome = timed_default_call(backend, server.url, fail_open=True)
    return took, outcome, server


def stalled_with_a_long_first_timeout() -> tuple[float, Any, FaultServer]:
    # timeout_ms 1.8 s, deadline 1.5 s: the first attempt may use its 1.8 s, and nothing runs after it.
    with fault_server(always(Fault.STALL), stall_seconds=10) as server:
        took, outcome = timed_default_call("sync", server.url, timeout_ms=1_800)
    return took, outcome, server


def injected_client_with_trickled_headers() -> tuple[float, Any, FaultServer]:
    # An httpx client passed in keeps its transport, yet the SDK's sends on it honour the attempt's
    # deadline at every socket operation (meterly._engines.httpx_compat), headers included.
    import httpx

    with (
        fault_server(always(Fault.SLOW_HEADERS), trickle_seconds=0.02) as server,
        httpx.Client(timeout=1.0) as http,
    ):
        sdk = Meterly(api_key=API_KEY, server_url=server.url, client=http, retry_config=None)
        started = time.monotonic()
        outcome: Any
        try:
            outcome = sdk.balances.check(customer_id="cus_1", feature_id="messages")
        except errors.MeterlyError as exc:
            outcome = exc
        took = time.monotonic() - started
    return took, outcome, server


Timed = tuple[float, Any, Optional[FaultServer]]
"""Seconds a call took, its result or MeterlyError, and the server it talked to (None: no server)."""

Scenario = Callable[[], Timed]

SCENARIOS: dict[tuple[str, str], Scenario] = {
    **{("refused", b): functools.partial(refused, b) for b in BACKENDS},
    **{("reset", b): functools.partial(served, Fault.RESET_AFTER_READ, b) for b in BACKENDS},
    **{("stall", b): functools.partial(served, Fault.STALL, b, stall_seconds=10) for b in BACKENDS},
    **{
        ("slow_headers", b): functools.partial(served, Fault.SLOW_HEADERS, b, trickle_seconds=0.05)
        for b in BACKENDS
    },
    **{
        ("slow_body", b): functools.partial(served, Fault.SLOW_BODY, b, trickle_seconds=0.05)
        for b in BACKENDS
    },
    **{("503_storm", b): functools.partial(served, Fault.PLAIN_503, b) for b in BACKENDS},
    **{("429_storm", b): functools.partial(served, Fault.RATE_LIMITED_429, b) for b in BACKENDS},
    **{("retry_later", b): functools.partial(served, Fault.RETRY_LATER_503, b) for b in BACKENDS},
    **{("stall_fail_open", b): functools.partial(stalled_with_fail_open, b) for b in BACKENDS},
    ("long_first_timeout", "sync"): stalled_with_a_long_first_timeout,
    ("injected_client", "sync"): injected_client_with_trickled_headers,
}
"""Every call the tests below time, each with its own server and client, in the tests' order."""

CONCURRENT = 6
"""Calls timed at once: enough to wait on sockets together, few enough that their CPU work (parsing,
the first call's imports and model compiling) stays well inside the half second `LIMIT` leaves."""


class Timings:
    """The scenarios' results, timed `CONCURRENT` at a time in threads: each call mostly waits on a
    socket. The first test to ask starts them all, its own first and then those after it, so a
    pytest-xdist worker that runs only some of these tests waits for little else."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=CONCURRENT)
        self._futures: dict[tuple[str, str], concurrent.futures.Future[Timed]] = {}

    def __getitem__(self, key: tuple[str, str]) -> Timed:
        if key not in self._futures:
            keys = list(SCENARIOS)
            at = keys.index(key)
            for next_key in keys[at:] + keys[:at]:
                if next_key not in self._futures:
                    self._futures[next_key] = self._pool.submit(SCENARIOS[next_key])
        return self._futures[key].result()

    def close(self) -> None:
        """Waits for the calls under way; those not started (another worker runs their tests) never are."""
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def outcomes() -> Iterator[Timings]:
    timings = Timings()
    yield timings
    timings.close()


def received(server: Optional[FaultServer]) -> int:
    assert server is not None
    return len(server.received)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_refused_connection_ends_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, _ = outcomes["refused", backend]
    assert isinstance(outcome, errors.APIConnectionError)
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_connections_end_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, server = outcomes["reset", backend]
    assert isinstance(outcome, errors.APIConnectionError)
    assert received(server) >= 2  # retried
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_that_never_answers_ends_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, server = outcomes["stall", backend]
    assert isinstance(outcome, errors.APITimeoutError)
    assert received(server) >= 2  # the second attempt was cut to what was left
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_trickled_headers_end_within_the_limit(outcomes: Timings, backend: str) -> None:
    # One byte every 50 ms: each read is well inside the 1 s read timeout; the headers take ~5 s.
    took, outcome, _ = outcomes["slow_headers", backend]
    assert isinstance(outcome, errors.APITimeoutError)
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trickled_body_ends_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, _ = outcomes["slow_body", backend]
    assert isinstance(outcome, errors.APITimeoutError)
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_503_storm_ends_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, server = outcomes["503_storm", backend]
    assert isinstance(outcome, errors.InternalServerError)
    assert received(server) >= 3
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_429_storm_ends_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, server = outcomes["429_storm", backend]
    assert isinstance(outcome, errors.RateLimitError)
    assert received(server) >= 3
    assert took <= LIMIT


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_retry_after_longer_than_the_deadline_raises_at_once(outcomes: Timings, backend: str) -> None:
    took, outcome, server = outcomes["retry_later", backend]
    assert isinstance(outcome, errors.InternalServerError)
    assert received(server) == 1
    assert took <= 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_fail_open_answers_a_stalled_server_within_the_limit(outcomes: Timings, backend: str) -> None:
    took, outcome, _ = outcomes["stall_fail_open", backend]
    assert (outcome.is_fallback, outcome.fallback_reason) == (True, "timeout")
    assert took <= LIMIT


def test_a_timeout_longer_than_the_deadline_is_kept_for_the_first_attempt_only(outcomes: Timings) -> None:
    took, outcome, server = outcomes["long_first_timeout", "sync"]
    assert isinstance(outcome, errors.APITimeoutError)
    assert received(server) == 1
    assert 1.7 <= took <= 1.8 + 0.5


def test_a_client_passed_in_cuts_trickled_headers_at_the_attempt_timeout(outcomes: Timings) -> None:
    took, outcome, _ = outcomes["injected_client", "sync"]
    assert isinstance(outcome, errors.APITimeoutError)
    # About 70 header bytes at 20 ms each would take 1.4 s: cut off at the 1 s attempt timeout instead.
    assert took < 1.3
