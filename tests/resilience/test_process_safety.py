"""Process and concurrency safety: one sync client shared by 16 threads through network faults, a client
used in a forked child (even while a parent thread held its lock), `AsyncMeterly` across successive
`asyncio.run` loops, and a 50,000-call soak with flat memory and file descriptors.

The basic cases (16 threads on a healthy server, a fork, two loops) are in tests/test_loopback.py;
these add faults, locks held across fork, borrowed clients and volume."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import sys
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors, models
from meterly._idempotency import new_idempotency_key
from meterly.utils import BackoffStrategy, RetryConfig
from tests.conftest import API_KEY, CHECK_BODY, USAGE_BODY

from .faultserver import Fault, always, fault_server
from .test_faults import assert_no_event_lost_or_doubled

QUICK = RetryConfig(backoff=BackoffStrategy(initial_interval=2, max_interval=10, max_elapsed_time=3_000))
LINUX = sys.platform.startswith("linux")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_16_threads_share_one_sync_client_through_network_faults() -> None:
    rng = random.Random(16)
    faults = [
        Fault.DROP_BEFORE_READ,
        Fault.DROP_AFTER_READ,
        Fault.ERROR_500,
        Fault.RESET_AFTER_READ,
        Fault.TRUNCATED,
    ]

    def plan() -> Fault:
        return Fault.OK if rng.random() < 0.7 else rng.choice(faults)

    outcomes: dict[str, Any] = {}
    lock = threading.Lock()
    with fault_server(plan) as server:
        sdk = Meterly(api_key=API_KEY, server_url=server.url, retry_config=QUICK, timeout_ms=2_000)

        def worker(n: int) -> None:
            for i in range(8):
                customer = f"cus_{n}_{i}"
                try:
                    # Commet's track: deduplicated by Idempotency-Key, so retried through the faults.
                    result: Any = sdk.usage.track(customer_id=customer, feature_code="f")
                except errors.MeterlyError as exc:
                    result = exc
                except BaseException as exc:  # pragma: no cover - reported by the assertion below
                    result = exc
                with lock:
                    outcomes[customer] = result

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        sdk.close()
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == 128
    assert_no_event_lost_or_doubled(server, outcomes)
    assert sum(isinstance(o, models.UsageEvent) for o in outcomes.values()) >= 100
    assert sum(server.faults[f] for f in faults) > 0


def run_in_child(work: Any, timeout: float = 15.0) -> bytes:
    """Forks; the child runs `work()` and reports its bytes; a child that hangs is killed and reported."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write_end, work())
        except BaseException as exc:
            os.write(write_end, f"raised {exc!r}".encode()[:300])
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read_end)
            return b"hung"
        time.sleep(0.01)
    result = os.read(read_end, 512)
    os.close(read_end)
    return result


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_call_even_if_a_parent_thread_held_the_clients_locks() -> None:
    with fault_server(always(Fault.OK)) as server:
        sdk = Meterly(api_key=API_KEY, server_url=server.url, fail_open=True)
        assert sdk.balances.check(customer_id="parent", feature_id="f").allowed
        circuit = sdk._pipeline.fail_open.circuit("balancesCheck")  # type: ignore[union-attr]
        holding, release = threading.Event(), threading.Event()

        def hold_locks() -> None:
            with sdk._pool.lock, circuit._lock:
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold_locks)
        holder.start()
        assert holding.wait(5)
        try:

            def child() -> bytes:
                circuit._state = "open"  # force the locked path in the child: _http() and circuit.admit()
                circuit._opened_at = -1e9
                res = sdk.balances.check(customer_id="child", feature_id="f")
                return b"ok" if res.allowed and not res.is_fallback else repr(res).encode()

            result = run_in_child(child)
        finally:
            release.set()
            holder.join(5)
        assert result == b"ok"
        assert sdk.balances.check(customer_id="parent-again", feature_id="f").allowed
        sdk.close()
    customers = [json.loads(r.body)["customer_id"] for _, r in server.received]
    assert customers == ["parent", "child", "parent-again"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_sends_an_idempotency_key_its_parent_sends() -> None:
    # Keys come from a buffer of random bytes read ahead; a child that kept its parent's buffer would send
    # the same keys as the parent, and the service would drop one side's events as duplicates.
    new_idempotency_key()  # the buffer is now filled in the parent
    child_keys = run_in_child(lambda: " ".join(new_idempotency_key() for _ in range(12)).encode())
    parent_keys = {new_idempotency_key() for _ in range(12)}
    assert len(child_keys.split()) == 12, child_keys  # run_in_child reports up to 512 bytes
    assert parent_keys.isdisjoint(child_keys.decode().split())


def test_the_fork_hooks_keep_no_module_alive_at_interpreter_exit() -> None:
    # A hook holding a module's globals keeps that module, and all it imports, alive through shutdown's
    # module cleanup: about 20 ms more at every process exit (bench/run.py's cold start shows it).
    from meterly import _idempotency, _pools

    hook = _pools._AFTER_FORK_IN_CHILD
    assert hook.__code__ is _pools._reset_clients_after_fork.__code__
    assert set(hook.__globals__) == {"_LIVE_CLIENTS", "__builtins__"}
    forget = _idempotency._FORGET_AFTER_FORK  # what _idempotency registers
    assert all(type(f).__name__ == "builtin_function_or_method" for f in forget)


def test_threads_drawing_idempotency_keys_at_once_never_get_the_same_key() -> None:
    keys: list[list[str]] = []
    start = threading.Barrier(8)

    def draw() -> None:
        start.wait()
        keys.append([new_idempotency_key() for _ in range(3000)])

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    drawn = [key for batch in keys for key in batch]
    assert len(drawn) == 24000
    assert len(set(drawn)) == len(drawn)
    assert all(uuid.UUID(key).version == 4 and uuid.UUID(key).variant == uuid.RFC_4122 for key in drawn)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_retries_through_faults_on_its_own_pool() -> None:
    with fault_server(always(Fault.OK)) as server:
        sdk = Meterly(api_key=API_KEY, server_url=server.url, retry_config=QUICK)
        assert sdk.balances.check(customer_id="parent", feature_id="f").allowed
        server.plan = iter([Fault.DROP_AFTER_READ, Fault.ERROR_500] + [Fault.OK] * 10).__next__

        def child() -> bytes:
            res = sdk.balances.check(customer_id="child", feature_id="f")
            return b"ok" if res.allowed else b"denied"

        assert run_in_child(child) == b"ok"
        sdk.close()
    attempts = server.attempts_by_customer()["child"]
    assert len(attempts) == 3
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    assert server.ledger.events["child"] == 1


def test_an_sdk_owned_async_client_works_across_many_successive_event_loops() -> None:
    with fault_server(always(Fault.OK)) as server:
        sdk = AsyncMeterly(api_key=API_KEY, server_url=server.url)

        async def one(n: int) -> bool:
            return (
                await asyncio.wait_for(sdk.balances.check(customer_id=f"loop{n}", feature_id="f"), 10)
            ).allowed

        before = open_fds() if LINUX else 0
        assert all(asyncio.run(one(n)) for n in range(12))
        gc.collect()
        if LINUX:
            assert open_fds() <= before + 4  # old loops' pools do not pile up sockets
    assert len(server.received) == 12


def test_a_borrowed_async_client_across_loops_gives_a_clear_error_never_a_hang() -> None:
    with fault_server(always(Fault.OK)) as server:
        http = httpx.AsyncClient()
        sdk = AsyncMeterly(api_key=API_KEY, server_url=server.url, client=http, retry_config=None)

        async def one() -> bool:
            return (await asyncio.wait_for(sdk.balances.check(customer_id="c", feature_id="f"), 10)).allowed

        assert asyncio.run(one()) is True
        started = time.monotonic()
        try:
            works = asyncio.run(one())
        except RuntimeError as exc:
            message = str(exc)
            assert message != "Event loop is closed"
            assert "cannot move between event loops" in message
        else:
            assert works is True
        assert time.monotonic() - started < 10


# -- soak ------------------------------------------------------------------------------------------

SOAK_CALLS = 50_000
SOAK_TIME_LIMIT = 120.0
CHECKS = {f"cus_{i}": json.dumps({**CHECK_BODY, "customer_id": f"cus_{i}"}).encode() for i in range(1000)}
USAGE = json.dumps(USAGE_BODY).encode()


class InProcessClient(httpx.Client):
    """Answers in-process without httpx's send machinery, so the soak measures the SDK itself:
    mostly successes, every 50th call a 503 (a fail-open fallback), every 97th a 404 (an error)."""

    calls = 0

    def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        if self.calls % 50 == 7:
            return httpx.Response(503, content=b'{"message":"down"}', request=request)
        if self.calls % 97 == 3:
            return httpx.Response(
                404, content=b'{"message":"no","code":"customer_not_found"}', request=request
            )
        # The check answer echoes its customer, as the service does (the SDK refuses another's answer).
        if request.url.path.endswith("/usage/check"):
            body = USAGE
        else:
            body = CHECKS[json.loads(request.content)["customer_id"]]
        return httpx.Response(200, content=body, headers={"x-request-id": "req"}, request=request)


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.mark.skipif(not LINUX, reason="reads /proc/self")
def test_a_50000_call_soak_keeps_memory_and_objects_flat(caplog: pytest.LogCaptureFixture) -> None:
    sdk = Meterly(
        api_key=API_KEY,
        client=InProcessClient(),
        retry_config=None,
        fail_open=FailOpenPolicy(failure_threshold=None),
        debug_logger=logging.getLogger("soak"),  # not enabled for DEBUG: exercises the cheap check
    )
    check, usage = sdk.balances.check, sdk.usage.check
    kinds = {"ok": 0, "fallback": 0, "error": 0}

    def burst(n: int, start: int) -> None:
        for i in range(start, start + n):
            try:
                res: Any = (
                    check(customer_id=f"cus_{i % 1000}", feature_id="messages", send_event=True)
                    if i % 2
                    else usage(customer_id=f"cus_{i % 1000}", feature_code="api_calls", quantity=1 + i % 5)
                )
                kinds["fallback" if res.is_fallback else "ok"] += 1
            except errors.NotFoundError:
                kinds["error"] += 1

    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="meterly"):  # a record kept per warning would look like a leak
        burst(5_000, 0)  # warm-up: caches and allocator arenas settle
        gc.collect()
        rss, objects = rss_kib(), len(gc.get_objects())
        done = 5_000
        while done < SOAK_CALLS and time.monotonic() - started < SOAK_TIME_LIMIT:
            burst(5_000, done)
            done += 5_000
        gc.collect()
        grown_rss, grown_objects = rss_kib() - rss, len(gc.get_objects()) - objects
    sdk.close()
    assert done == SOAK_CALLS, f"only {done} calls in {SOAK_TIME_LIMIT} s"
    assert sum(kinds.values()) == SOAK_CALLS
    assert kinds["fallback"] > 0
    assert kinds["error"] > 0
    assert grown_objects < 1_000, grown_objects  # a leak of one object per call would be 45,000
    assert grown_rss < 8 * 1024, f"RSS grew {grown_rss} KiB over 45,000 calls"


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/fd")
def test_a_socket_soak_through_drops_and_resets_keeps_file_descriptors_flat() -> None:
    rng = random.Random(7)
    faults = [
        Fault.DROP_BEFORE_READ,
        Fault.DROP_AFTER_READ,
        Fault.RESET_AFTER_READ,
        Fault.TRUNCATED,
        Fault.GARBAGE,
    ]

    def plan() -> Fault:
        return Fault.OK if rng.random() < 0.8 else rng.choice(faults)

    with fault_server(plan) as server:
        sdk = Meterly(api_key=API_KEY, server_url=server.url, retry_config=QUICK)
        sdk.balances.check(customer_id="warm", feature_id="f")
        before = open_fds()
        for i in range(600):
            sdk.balances.check(customer_id=f"c{i}", feature_id="f")
        after = open_fds()
        sdk.close()
    assert sum(server.faults[f] for f in faults) > 50
    assert after <= before + 2  # at most a pooled connection or two more than at the start
