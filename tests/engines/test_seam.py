"""Every engine behind the one `Sender` seam, sync and async, on its own client and on an injected one:
the same request on the wire, the SDK's deadline against silent and trickling servers whatever the
injected client's own timeouts, redirects never followed, transport failures told apart (before or
after the request could have been sent), `discard` and `close` with sends in flight.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly._engines import seam
from meterly._engines.seam import ClosedWhileSending, never_sent

from ..conftest import API_KEY, CHECK_BODY
from ..loopback import Answer, Received, refused_url, serve
from ..resilience.faultserver import Fault, always, fault_server

# (engine, injected): an injected client is built by `injected_client` with long timeouts of its own.
SYNC = [("httpx", False), ("httpx", True), ("httpx2", False), ("httpx2", True), ("pyreqwest", False)]
ASYNC = [*SYNC, ("aiohttp", False), ("aiohttp", True)]
DEFAULT_LIMIT = 2.0 + 0.4  # the SDK's default call deadline (at most 2 s), and a shared machine's slack


def _ids(cases: list[tuple[str, bool]]) -> list[str]:
    return [f"{engine}-{'injected' if injected else 'own'}" for engine, injected in cases]


def injected_client(engine: str, is_async: bool) -> Any:
    """A caller's client with timeouts far longer than the SDK's (aiohttp's default is 5 minutes)."""
    if engine == "httpx":
        return httpx.AsyncClient(timeout=30.0) if is_async else httpx.Client(timeout=30.0)
    if engine == "httpx2":
        httpx2 = pytest.importorskip("httpx2")
        return httpx2.AsyncClient(timeout=30.0) if is_async else httpx2.Client(timeout=30.0)
    aiohttp = pytest.importorskip("aiohttp")
    return aiohttp.ClientSession()


async def _close_client(client: Any) -> None:
    if hasattr(client, "aclose"):
        await client.aclose()
    else:
        await client.close()


def call(
    mode: str, engine: str, injected: bool, url: str, method: str = "check", **options: Any
) -> tuple[float, Any]:
    """One balances.check on a fresh client; (seconds taken, result or MeterlyError)."""
    if engine != "httpx":
        pytest.importorskip(engine)
    settings: dict[str, Any] = {"api_key": API_KEY, "server_url": url, **options}
    outcome: Any
    if mode == "sync":
        client = injected_client(engine, False) if injected else None
        settings.update({"client": client} if injected else {"http_backend": engine})
        started = time.monotonic()
        with Meterly(**settings) as sdk:
            try:
                outcome = getattr(sdk.balances, method)(customer_id="cus_123", feature_id="messages")
            except errors.MeterlyError as exc:
                outcome = exc
        took = time.monotonic() - started
        if client is not None:
            client.close()
        return took, outcome

    async def run() -> tuple[float, Any]:
        client = injected_client(engine, True) if injected else None
        settings.update({"client": client} if injected else {"http_backend": engine})
        started = time.monotonic()
        async with AsyncMeterly(**settings) as sdk:
            try:
                check = getattr(sdk.balances, method)
                result: Any = await check(customer_id="cus_123", feature_id="messages")
            except errors.MeterlyError as exc:
                result = exc
        took = time.monotonic() - started
        if client is not None:
            await _close_client(client)
        return took, result

    return asyncio.run(run())


CASES = [("sync", e, i) for e, i in SYNC] + [("async", e, i) for e, i in ASYNC]
CASE_IDS = [f"{mode}-{case}" for (mode, _, _), case in zip(CASES, _ids(SYNC) + _ids(ASYNC), strict=True)]


def ok(received: Received) -> Answer:
    return 200, {"content-type": "application/json", "x-request-id": "req_e"}, json.dumps(CHECK_BODY).encode()


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_every_engine_sends_the_same_request_and_parses_the_answer(
    mode: str, engine: str, injected: bool
) -> None:
    with serve(ok) as server:
        _, outcome = call(mode, engine, injected, server.url)
    assert not isinstance(outcome, BaseException), outcome
    assert outcome.allowed is True
    (received,) = server.received
    assert received.path == "/v1/balances.check"
    assert received.headers["authorization"] == f"Bearer {API_KEY}"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"].startswith("meterly-python/")
    assert json.loads(received.body) == {"customer_id": "cus_123", "feature_id": "messages"}


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_a_silent_server_is_given_up_on_within_the_default_deadline(
    mode: str, engine: str, injected: bool
) -> None:
    # Accepts, reads the request, never answers: the injected clients' own 30 s (aiohttp: 5 min) don't apply.
    with fault_server(always(Fault.STALL), stall_seconds=8) as server:
        took, outcome = call(mode, engine, injected, server.url)
    assert isinstance(outcome, errors.APITimeoutError), outcome
    assert took <= DEFAULT_LIMIT


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_a_trickled_body_is_cut_off_at_the_attempt_timeout(mode: str, engine: str, injected: bool) -> None:
    with fault_server(always(Fault.SLOW_BODY), trickle_seconds=0.05) as server:
        took, outcome = call(mode, engine, injected, server.url, timeout_ms=300, retry_config=None)
    assert isinstance(outcome, errors.APITimeoutError), outcome
    assert took <= 0.3 + 0.5


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_trickled_headers_are_cut_off_at_the_attempt_timeout(mode: str, engine: str, injected: bool) -> None:
    with fault_server(always(Fault.SLOW_HEADERS), trickle_seconds=0.05) as server:
        took, outcome = call(mode, engine, injected, server.url, timeout_ms=300, retry_config=None)
    assert isinstance(outcome, errors.APITimeoutError), outcome
    assert took <= 0.3 + 0.5


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_a_redirect_is_the_answer_never_followed(mode: str, engine: str, injected: bool) -> None:
    def redirect(received: Received) -> Answer:
        return 307, {"location": "http://127.0.0.1:9/elsewhere"}, b""

    with serve(redirect) as server:
        _, outcome = call(mode, engine, injected, server.url, retry_config=None)
    assert isinstance(outcome, errors.APIError), outcome
    assert outcome.status_code == 307
    assert len(server.received) == 1


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_a_refused_connection_is_told_apart_as_never_sent(mode: str, engine: str, injected: bool) -> None:
    _, outcome = call(mode, engine, injected, refused_url(), retry_config=None)
    assert isinstance(outcome, errors.APIConnectionError), outcome
    assert never_sent(outcome.__cause__)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "engine", "injected"), CASES, ids=CASE_IDS)
def test_an_answer_cut_short_is_not_told_as_never_sent(mode: str, engine: str, injected: bool) -> None:
    with fault_server(always(Fault.DROP_AFTER_READ)) as server:
        _, outcome = call(mode, engine, injected, server.url, retry_config=None)
    assert isinstance(outcome, errors.APIConnectionError), outcome
    assert not never_sent(outcome.__cause__)  # type: ignore[arg-type]


# -- the seam's own operations -------------------------------------------------------------------------


@contextmanager
def counting_server() -> Iterator[tuple[str, list[int]]]:
    """A keep-alive server that records the client port of each request (one port per connection)."""
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            ports.append(self.client_address[1])
            body = json.dumps(CHECK_BODY).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", ports
    finally:
        httpd.shutdown()
        httpd.server_close()


def sync_sender(engine: str) -> Any:
    if engine != "httpx":
        pytest.importorskip(engine)
    return seam.engine_module(engine).sync_sender(None)


@pytest.mark.parametrize("engine", ["httpx", "httpx2"])
def test_discard_closes_the_connection_that_carried_a_response(engine: str) -> None:
    with counting_server() as (url, ports):
        sender = sync_sender(engine)
        request = httpx.Request("POST", f"{url}/v1/balances.check", content=b"{}")
        sender.send(request)
        sender.send(request)
        assert ports[0] == ports[1]  # kept alive
        response = sender.send(request)
        sender.discard(response)
        sender.send(request)
        sender.close()
    assert ports[3] != ports[2]  # the discarded connection was not reused


@pytest.mark.parametrize("engine", ["httpx", "httpx2", "aiohttp", "pyreqwest"])
def test_an_async_discard_closes_the_connection_that_carried_a_response(engine: str) -> None:
    if engine != "httpx":
        pytest.importorskip(engine)

    async def main(url: str) -> None:
        sender = seam.engine_module(engine).async_sender(None)
        request = httpx.Request("POST", f"{url}/v1/balances.check", content=b"{}")
        await sender.send(request)
        await sender.send(request)
        response = await sender.send(request)
        await sender.discard(response)  # pyreqwest: its whole pool is replaced
        await sender.send(request)
        await sender.aclose()

    with counting_server() as (url, ports):
        asyncio.run(main(url))
    assert ports[0] == ports[1] == ports[2]  # kept alive
    assert ports[3] != ports[2]  # the discarded connection was not reused


def test_a_send_cut_off_by_closing_is_the_one_class_the_attempt_loop_reads() -> None:
    from meterly import _wire

    # One concept on both sides of the seam: engines raise what `_attempts` reads as "closed".
    assert seam.ClosedWhileSending is _wire.ClosedWhileSending
    assert issubclass(seam.ClosedWhileSending, _wire.ClientClosed)
    assert not never_sent(seam.ClosedWhileSending("closed"))  # the write may have arrived
    assert never_sent(seam.ClosedBeforeSending("closed"))
    assert seam.never_sent is _wire.never_sent
    assert not hasattr(seam, "SenderClosed")
    assert not hasattr(seam, "not_sent")


@pytest.mark.parametrize("engine", ["httpx", "httpx2", "pyreqwest"])
def test_closing_with_a_send_in_flight_raises_closed_while_sending(engine: str) -> None:
    with fault_server(always(Fault.STALL), stall_seconds=3) as server:
        sender = sync_sender(engine)
        request = httpx.Request(
            "POST",
            f"{server.url}/v1/balances.check",
            content=b"{}",
            headers={"idempotency-key": "k1"},
            extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), 2.5)},
        )
        caught: list[BaseException] = []

        def send() -> None:
            try:
                sender.send(request)
            except BaseException as exc:
                caught.append(exc)

        thread = threading.Thread(target=send)
        thread.start()
        time.sleep(0.3)
        sender.close()
        thread.join(5)
    assert len(caught) == 1
    assert isinstance(caught[0], ClosedWhileSending), repr(caught[0])
    assert isinstance(caught[0], httpx.TransportError)  # what the pipeline maps, as "no response"
