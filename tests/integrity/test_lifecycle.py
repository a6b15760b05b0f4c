"""Closing and opening a client (issue 19, point 9 and the 2 s budget): a client closed while calls are
in flight ends those calls with a typed MeterlyError, which for a write says that its outcome is
unknown (it had reached the service); a new client's first call, setup included, stays within 2 s."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from meterly import errors
from tests.faultproxy import Fault, FaultProxy

from .harness import ENGINE_SPECS, ENGINES, is_sync, ledger, make_client, served, write_outcome_unknown

SRC = Path(__file__).resolve().parents[2] / "src"


def write(kind: str, n: int) -> Callable[[Any], Any]:
    """A write on `client` with Idempotency-Key `k<n>`: Commet's track or Autumn's send_event check."""
    if kind == "usage.track":
        return lambda client: client.usage.track(
            customer_id="cus_pro", feature_code="api_calls", event_id=f"e{n}", idempotency_key=f"k{n}"
        )
    return lambda client: client.balances.check(
        customer_id="cus_bulk", feature_id="messages", send_event=True, idempotency_key=f"k{n}"
    )


def close_in_flight(
    engine: str, kind: str, url: str, arrived: Callable[[], bool], calls: int = 4
) -> list[Any]:
    """Start `calls` writes whose answers trickle in, close the client once `arrived()` says the service
    has them all (at most 5 s; a fixed wait was too short on a loaded machine), give their outcomes."""

    def until_arrived() -> None:
        deadline = time.monotonic() + 5
        while not arrived() and time.monotonic() < deadline:
            time.sleep(0.01)

    writes = [write(kind, n) for n in range(calls)]
    if is_sync(engine):
        client = make_client(engine, server_url=url)
        outcomes: list[Any] = [None] * calls

        def run(n: int) -> None:
            try:
                outcomes[n] = writes[n](client)
            except BaseException as exc:
                outcomes[n] = exc

        threads = [threading.Thread(target=run, args=(n,)) for n in range(calls)]
        for thread in threads:
            thread.start()
        until_arrived()
        client.close()
        for thread in threads:
            thread.join(timeout=10)
        return outcomes

    async def main() -> list[Any]:
        client = make_client(engine, server_url=url)
        tasks = [asyncio.ensure_future(w(client)) for w in writes]
        deadline = time.monotonic() + 5
        while not arrived() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await client.aclose()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["usage.track", "balances.check"])
@pytest.mark.parametrize("engine", ENGINES)
def test_closing_with_writes_in_flight_says_their_outcome_is_unknown(engine: str, kind: str) -> None:
    with (
        served() as sandbox,
        FaultProxy(
            sandbox.url, script=lambda request: Fault.TRICKLE, trickle_bytes=8, trickle_delay_s=0.05
        ) as proxy,
    ):
        outcomes = close_in_flight(
            engine, kind, proxy.url, arrived=lambda: len(ledger(sandbox).recorded()) == 4
        )
        recorded = ledger(sandbox).recorded()
    assert sorted(str(key) for key in recorded) == ["k0", "k1", "k2", "k3"]  # every write had arrived
    assert [type(o).__name__ for o in outcomes if not isinstance(o, errors.MeterlyError)] == []
    assert all(isinstance(o, write_outcome_unknown()) for o in outcomes)
    assert sorted(str(getattr(o, "idempotency_key", None)) for o in outcomes) == ["k0", "k1", "k2", "k3"]


FIRST_CALL = textwrap.dedent(
    """
    import asyncio, socket, sys, time
    is_async, backend, injected = sys.argv[1] == "async", sys.argv[2], sys.argv[3] == "injected"
    # Accepts connections (the kernel does) and never answers: the call lasts its whole deadline.
    silent = socket.create_server(("127.0.0.1", 0), backlog=64)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    from meterly import AsyncMeterly, Meterly, errors

    def sync_call():
        started = time.monotonic()
        if injected:
            import importlib
            own = importlib.import_module(backend).Client()
            client = Meterly(api_key="sk_test_first", server_url=url, client=own)
        else:
            client = Meterly(api_key="sk_test_first", server_url=url, http_backend=backend)
        try:
            client.balances.check(customer_id="cus_1", feature_id="messages")
        except errors.MeterlyError:
            pass
        elapsed = time.monotonic() - started
        client.close()
        if injected:
            own.close()
        return elapsed

    async def async_call():
        started = time.monotonic()
        if injected:
            import importlib
            if backend == "aiohttp":
                import aiohttp
                own = aiohttp.ClientSession()
            else:
                own = importlib.import_module(backend).AsyncClient()
            client = AsyncMeterly(api_key="sk_test_first", server_url=url, client=own)
        else:
            client = AsyncMeterly(api_key="sk_test_first", server_url=url, http_backend=backend)
        try:
            await client.balances.check(customer_id="cus_1", feature_id="messages")
        except errors.MeterlyError:
            pass
        await client.aclose()
        if injected:
            await (own.close() if backend == "aiohttp" else own.aclose())
        return time.monotonic() - started

    print(asyncio.run(async_call()) if is_async else sync_call())
    """
)


def first_call_argv(engine: str) -> list[str]:
    is_async, backend, injected = ENGINE_SPECS[engine]
    return ["async" if is_async else "sync", backend, "injected" if injected else "own"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_clients_first_call_stays_within_two_seconds_setup_included(engine: str) -> None:
    # A fresh interpreter: the first call pays for every lazy import, pool and TLS context.
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, *first_call_argv(engine)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) <= 2.0
