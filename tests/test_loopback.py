"""Over a real socket: SDK-owned pools, timeouts, refused connections, threads, fork and event loops."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors

from .conftest import API_KEY, canned_answer
from .loopback import Answer, LoopbackServer, Received, refused_url, serve


def answer(received: Received) -> Answer:
    body = canned_answer(received.path, received.body)
    return 200, {"content-type": "application/json", "x-request-id": "req_loop"}, json.dumps(body).encode()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(answer) as srv:
        yield srv


def test_sync_client_checks_over_a_socket(server: LoopbackServer) -> None:
    with Meterly(api_key=API_KEY, server_url=server.url) as sdk:
        res = sdk.balances.check(customer_id="cus_123", feature_id="messages")
        usage = sdk.usage.check(customer_id="cus_123", feature_code="api_calls", quantity=3)
    assert res.allowed is True
    assert usage.feature_code == "api_calls"
    first, second = server.received
    assert first.path == "/v1/balances.check"
    assert first.headers["authorization"] == f"Bearer {API_KEY}"
    assert second.headers["x-api-key"] == API_KEY
    assert json.loads(second.body) == {"customerId": "cus_123", "featureCode": "api_calls", "quantity": 3}


def cookie_answer(received: Received) -> Answer:
    status, headers, body = answer(received)
    return status, {**headers, "set-cookie": "session=abc; Path=/"}, body


@pytest.mark.parametrize("backend", ["sync", "httpx", "aiohttp"])
def test_the_sdks_own_clients_keep_no_cookies(backend: str) -> None:
    # Meterly sets no cookies; the clients the SDK creates neither store nor send them back, which also
    # spares every call a pass through a cookie jar. (A host name: aiohttp ignores cookies from IPs.)
    if backend == "aiohttp":
        pytest.importorskip("aiohttp")
    with serve(cookie_answer) as srv:
        url = srv.url.replace("127.0.0.1", "localhost")
        if backend == "sync":
            with Meterly(api_key=API_KEY, server_url=url) as sdk:
                for _ in range(2):
                    assert sdk.balances.check(customer_id="c", feature_id="f").allowed
        else:

            async def twice() -> None:
                async with AsyncMeterly(
                    api_key=API_KEY,
                    server_url=url,
                    http_backend=backend,  # type: ignore[arg-type]
                ) as sdk:
                    for _ in range(2):
                        assert (await sdk.balances.check(customer_id="c", feature_id="f")).allowed

            asyncio.run(twice())
    assert len(srv.received) == 2
    assert [r.headers.get("cookie") for r in srv.received] == [None, None]


def test_a_client_passed_in_keeps_its_own_cookies() -> None:
    with serve(cookie_answer) as srv, httpx.Client() as http:
        sdk = Meterly(api_key=API_KEY, server_url=srv.url, client=http)
        for _ in range(2):
            assert sdk.balances.check(customer_id="c", feature_id="f").allowed
    assert [r.headers.get("cookie") for r in srv.received] == [None, "session=abc"]


async def test_async_client_checks_over_a_socket(server: LoopbackServer) -> None:
    async with AsyncMeterly(api_key=API_KEY, server_url=server.url) as sdk:
        results = await asyncio.gather(
            *(sdk.usage.check(customer_id=f"cus_{i}", feature_code="api_calls") for i in range(20))
        )
    assert all(r.allowed for r in results)
    assert len(server.received) == 20


def test_attempt_timeout_raises_api_timeout_error() -> None:
    def stall(received: Received) -> Answer:
        time.sleep(0.5)
        return answer(received)

    with serve(stall) as srv, Meterly(api_key=API_KEY, server_url=srv.url, retry_config=None) as sdk:
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError):
            sdk.balances.check(customer_id="c", feature_id="f", timeout_ms=100)
        assert time.monotonic() - started < 0.45


def test_refused_connection_raises_api_connection_error() -> None:
    sdk = Meterly(api_key=API_KEY, server_url=refused_url(), retry_config=None)
    with pytest.raises(errors.APIConnectionError):
        sdk.balances.check(customer_id="c", feature_id="f")


def test_dropped_connection_is_retried_with_the_same_key() -> None:
    calls = []

    def drop_first(received: Received) -> Answer | None:
        calls.append(received)
        return None if len(calls) == 1 else answer(received)

    with serve(drop_first) as srv, Meterly(api_key=API_KEY, server_url=srv.url) as sdk:
        # A read: Autumn's send_event check is never resent once it may have arrived.
        assert sdk.balances.check(customer_id="c", feature_id="f").allowed
    assert len(calls) == 2
    assert calls[0].headers["idempotency-key"] == calls[1].headers["idempotency-key"]


def test_one_sync_client_shared_by_16_threads(server: LoopbackServer) -> None:
    sdk = Meterly(api_key=API_KEY, server_url=server.url)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                assert sdk.balances.check(customer_id=f"cus_{n}_{i}", feature_id="f").allowed
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    sdk.close()
    assert failures == []
    assert len(server.received) == 160
    assert len({r.headers["idempotency-key"] for r in server.received}) == 160


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_pool(server: LoopbackServer) -> None:
    sdk = Meterly(api_key=API_KEY, server_url=server.url)
    assert sdk.balances.check(customer_id="parent", feature_id="f").allowed
    parent_pool = sdk._http()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            ok = (
                sdk.balances.check(customer_id="child", feature_id="f").allowed
                and sdk._http() is not parent_pool
            )
            os.write(write_end, b"ok" if ok else b"bad")
        except BaseException as exc:
            os.write(write_end, repr(exc).encode()[:200])
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    result = os.read(read_end, 256)
    os.close(read_end)
    assert result == b"ok"
    assert sdk._http() is parent_pool
    assert sdk.balances.check(customer_id="parent-again", feature_id="f").allowed
    sdk.close()


def test_async_client_survives_successive_event_loops(server: LoopbackServer) -> None:
    sdk = AsyncMeterly(api_key=API_KEY, server_url=server.url)

    async def one(customer: str) -> bool:
        return (await sdk.balances.check(customer_id=customer, feature_id="f")).allowed

    assert asyncio.run(one("first-loop")) is True
    assert asyncio.run(one("second-loop")) is True
    assert [json.loads(r.body)["customer_id"] for r in server.received] == ["first-loop", "second-loop"]


def test_closing_the_sync_client_releases_its_sockets(server: LoopbackServer) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("counts /proc/self/fd")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with Meterly(api_key=API_KEY, server_url=server.url) as sdk:
            sdk.balances.check(customer_id="c", feature_id="f")
    # The server's ends are in this process too: its handler threads close them once they read the
    # client's close, which under load can come after this line.
    deadline = time.monotonic() + 2
    while len(os.listdir("/proc/self/fd")) > before + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(os.listdir("/proc/self/fd")) <= before + 1
