"""The circuit breaker under concurrency: failed attempts of all calls count, opening the circuit wakes
the calls sleeping before a retry, and an outage then costs callers almost nothing. Real sockets, on the
sync client shared by threads and on both async backends.

Measured on this project's 2-core VM the wave of 32 answers within about 0.1-0.3 s and later checks
take about 0.05 ms; the bounds below are loose for a noisy machine, but a circuit that counted only
finished calls makes the wave wait out the whole retry budget (1.5 s).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import threading
import time
from typing import Any, List

import httpx
import pytest

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, models
from meterly._fail_open import Circuit
from meterly.sandbox import DEFAULT_API_KEY, Sandbox
from meterly.utils import BackoffStrategy, RetryConfig
from tests.conftest import API_KEY, FakeClock, Harness, json_response

from .faultserver import Fault, always, fault_server

WAVE = 32
WAVE_BOUND = 1.2  # target 0.5 s; waiting out the retry budget takes 1.5 s
LATER_P99_BOUND = 0.005  # target 1 ms
SLOW_RETRIES = RetryConfig(
    backoff=BackoffStrategy(initial_interval=4_000, max_interval=4_000, max_elapsed_time=8_000)
)
"""A first retry 2-4 s away: a call that answers sooner was woken by the circuit."""


def sync_wave(sb: Sandbox) -> tuple[List[float], List[Any], List[float]]:
    """A running app's client (one check made) meets an outage: WAVE threads share it, then 200 checks
    one after the other. Seconds and results."""
    with Meterly(api_key=DEFAULT_API_KEY, server_url=sb.url, fail_open=True) as sdk:
        sdk.balances.check(customer_id="cus_pro", feature_id="messages")
        sb.engine.faults.outage = True
        barrier = threading.Barrier(WAVE)
        took: List[float] = [0.0] * WAVE
        results: List[Any] = [None] * WAVE

        def one(i: int) -> None:
            barrier.wait()
            started = time.monotonic()
            results[i] = sdk.balances.check(customer_id="cus_pro", feature_id="messages")
            took[i] = time.monotonic() - started

        threads = [threading.Thread(target=one, args=(i,)) for i in range(WAVE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        later: List[float] = []
        for _ in range(200):
            started = time.perf_counter()
            res = sdk.balances.check(customer_id="cus_pro", feature_id="messages")
            later.append(time.perf_counter() - started)
            assert res.fallback_reason == "circuit_open"
    return took, results, later


def async_wave(sb: Sandbox, backend: str) -> tuple[List[float], List[Any], List[float]]:
    async def run() -> tuple[List[float], List[Any], List[float]]:
        async with AsyncMeterly(
            api_key=DEFAULT_API_KEY,
            server_url=sb.url,
            fail_open=True,
            http_backend=backend,  # type: ignore[arg-type]
        ) as sdk:
            await sdk.balances.check(customer_id="cus_pro", feature_id="messages")
            sb.engine.faults.outage = True

            async def one() -> tuple[float, Any]:
                started = time.monotonic()
                res = await sdk.balances.check(customer_id="cus_pro", feature_id="messages")
                return time.monotonic() - started, res

            pairs = await asyncio.gather(*(one() for _ in range(WAVE)))
            later: List[float] = []
            for _ in range(200):
                started = time.perf_counter()
                res = await sdk.balances.check(customer_id="cus_pro", feature_id="messages")
                later.append(time.perf_counter() - started)
                assert res.fallback_reason == "circuit_open"
            return [t for t, _ in pairs], [r for _, r in pairs], later

    return asyncio.run(run())


@pytest.mark.parametrize("backend", ["sync", "httpx", "aiohttp"])
def test_32_concurrent_checks_during_an_outage_answer_at_once_and_later_ones_cost_nothing(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Sandbox() as sb, caplog.at_level(logging.INFO, logger="meterly"):
        took, results, later = sync_wave(sb) if backend == "sync" else async_wave(sb, backend)
    (opened,) = [r for r in caplog.records if r.name == "meterly"]  # one state change, one record
    assert "circuit open after 5 consecutive failures" in opened.getMessage()
    assert all(isinstance(r, models.CheckResponse) and r.is_fallback and r.allowed for r in results)
    assert max(took) <= WAVE_BOUND
    later.sort()
    assert later[int(len(later) * 0.99) - 1] <= LATER_P99_BOUND
    assert statistics.median(later) <= LATER_P99_BOUND / 5


def test_failed_attempts_count_even_before_their_call_finishes(make: Any) -> None:
    down = json_response(503, {"message": "down"})
    h: Harness = make(lambda request: down, fail_open=FailOpenPolicy(failure_threshold=3))
    first = h.check()
    assert (first.fallback_reason, len(h.requests)) == ("server_error", 3)  # its own retries opened it
    assert h.check().fallback_reason == "circuit_open"
    assert len(h.requests) == 3


def test_a_sync_call_sleeping_before_a_retry_answers_as_soon_as_other_calls_open_the_circuit() -> None:
    with fault_server(always(Fault.PLAIN_503)) as server:
        policy = FailOpenPolicy(failure_threshold=3)
        with Meterly(
            api_key=API_KEY, server_url=server.url, fail_open=policy, retry_config=SLOW_RETRIES
        ) as sdk:
            waited: List[float] = []

            def sleeper() -> None:
                started = time.monotonic()
                res = sdk.balances.check(customer_id="sleeper", feature_id="f")
                assert res.fallback_reason == "server_error"
                waited.append(time.monotonic() - started)

            thread = threading.Thread(target=sleeper)
            thread.start()
            while not server.received:
                time.sleep(0.005)
            others = [
                sdk.balances.check(customer_id=f"other{i}", feature_id="f", retries=None) for i in range(2)
            ]
            opened_at = time.monotonic()
            thread.join(timeout=10)
            woke_after = time.monotonic() - opened_at
    assert [o.fallback_reason for o in others] == ["server_error", "server_error"]
    assert len(waited) == 1
    assert waited[0] < 1.5  # its retry was 2-4 s away
    assert woke_after < 0.5
    assert len(server.received) == 3  # the sleeper never made its retry


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
def test_an_async_call_sleeping_before_a_retry_answers_as_soon_as_other_calls_open_the_circuit(
    backend: str,
) -> None:
    async def run(url: str) -> tuple[float, Any]:
        policy = FailOpenPolicy(failure_threshold=3)
        async with AsyncMeterly(
            api_key=API_KEY,
            server_url=url,
            fail_open=policy,
            retry_config=SLOW_RETRIES,
            http_backend=backend,  # type: ignore[arg-type]
        ) as sdk:
            started = time.monotonic()
            sleeper = asyncio.ensure_future(sdk.balances.check(customer_id="sleeper", feature_id="f"))
            while not server.received:
                await asyncio.sleep(0.005)
            for i in range(2):
                await sdk.balances.check(customer_id=f"other{i}", feature_id="f", retries=None)
            res = await asyncio.wait_for(sleeper, 10)
            return time.monotonic() - started, res

    with fault_server(always(Fault.PLAIN_503)) as server:
        took, res = asyncio.run(run(server.url))
    assert res.fallback_reason == "server_error"
    assert took < 1.5
    assert len(server.received) == 3


def test_a_circuit_opened_from_another_thread_wakes_a_sync_sleeper() -> None:
    circuit = Circuit("balancesCheck", threshold=1, cooldown=30.0)
    timer = threading.Timer(0.1, circuit.failed, args=(0.0, "timeout", TimeoutError("t"), "allowed=True"))
    timer.start()
    started = time.monotonic()
    circuit.sleep(5.0)
    assert time.monotonic() - started < 2.0
    assert circuit.is_open
    timer.join()


def test_a_circuit_opened_from_another_thread_wakes_an_asyncio_sleeper() -> None:
    circuit = Circuit("balancesCheck", threshold=1, cooldown=30.0)

    async def run() -> float:
        timer = threading.Timer(0.1, circuit.failed, args=(0.0, "timeout", TimeoutError("t"), "allowed=True"))
        timer.start()
        started = time.monotonic()
        await circuit.asleep(5.0)
        timer.join()
        return time.monotonic() - started

    assert asyncio.run(run()) < 2.0
    assert circuit.is_open


def test_sleepers_sleep_their_full_time_while_the_circuit_stays_closed() -> None:
    circuit = Circuit("balancesCheck", threshold=5, cooldown=30.0)
    circuit.failed(0.0, "timeout", TimeoutError("t"), "allowed=True")  # failing, not open
    started = time.monotonic()
    circuit.sleep(0.2)
    assert time.monotonic() - started >= 0.19
    started = time.monotonic()
    asyncio.run(circuit.asleep(0.2))
    assert time.monotonic() - started >= 0.19
    assert not circuit._waiters  # the asyncio sleeper deregistered itself


def test_an_open_circuit_does_not_hold_a_sleeper_at_all() -> None:
    circuit = Circuit("balancesCheck", threshold=1, cooldown=30.0)
    circuit.failed(0.0, "timeout", TimeoutError("t"), "allowed=True")
    started = time.monotonic()
    circuit.sleep(5.0)
    asyncio.run(circuit.asleep(5.0))
    assert time.monotonic() - started < 0.5


def test_a_retry_of_a_call_that_fails_open_sleeps_through_the_clients_sleep(clock: FakeClock) -> None:
    # The driver still sleeps (the pipeline only yields a Pause): a fake clock sees every backoff.
    handler = httpx.MockTransport(lambda request: json_response(503, {}))
    sdk = Meterly(
        api_key=API_KEY,
        client=httpx.Client(transport=handler),
        fail_open=FailOpenPolicy(failure_threshold=None),
    )
    sdk._pipeline.clock = clock.monotonic
    sdk._sleep = clock.sleep  # type: ignore[method-assign]
    sdk._pipeline.random = lambda: 0.5
    res = sdk.balances.check(customer_id="c", feature_id="f")
    assert res.fallback_reason == "server_error"
    assert clock.sleeps == pytest.approx([0.075, 0.15, 0.3, 0.375, 0.375])
