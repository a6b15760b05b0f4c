"""AsyncMeterly over a real socket behaves the same on every engine: httpx, httpx2, pyreqwest, aiohttp."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional

import httpx
import pytest

from meterly import AsyncMeterly, BackoffStrategy, Meterly, RetryConfig, errors
from meterly._hooks import HookContext

from .conftest import API_KEY, CHECK_BODY, canned_answer
from .loopback import Answer, LoopbackServer, Received, refused_url, serve

BACKENDS = ["httpx", "httpx2", "pyreqwest", "aiohttp"]
FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(10, 40, 2.0, 2_000), True)


def ok(received: Received) -> Answer:
    body = canned_answer(received.path, received.body)
    return 200, {"content-type": "application/json", "x-request-id": "req_t"}, json.dumps(body).encode()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param != "httpx":
        pytest.importorskip(request.param)
    return str(request.param)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(ok) as srv:
        yield srv


def make(backend: str, url: str, **kwargs: Any) -> AsyncMeterly:
    return AsyncMeterly(api_key=API_KEY, server_url=url, http_backend=backend, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def sdk(backend: str, server: LoopbackServer) -> AsyncIterator[AsyncMeterly]:
    async with make(backend, server.url) as client:
        yield client


async def test_a_check_succeeds_with_the_same_request_on_both_backends(
    sdk: AsyncMeterly, server: LoopbackServer
) -> None:
    res = await sdk.balances.check(customer_id="cus_123", feature_id="messages", send_event=True)
    assert res.allowed is True
    assert res.balance is not None
    assert res.balance.remaining == CHECK_BODY["balance"]["remaining"]
    (received,) = server.received
    assert received.path == "/v1/balances.check"
    assert received.headers["authorization"] == f"Bearer {API_KEY}"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["accept"] == "application/json"
    assert received.headers["user-agent"].startswith("meterly-python/")
    body = json.loads(received.body)
    assert body == {"customer_id": "cus_123", "feature_id": "messages", "send_event": True}


async def test_raw_response_keeps_status_headers_and_parses(sdk: AsyncMeterly) -> None:
    raw = await sdk.balances.with_raw_response.check(customer_id="c", feature_id="f")
    assert raw.status_code == 200
    assert raw.request_id == "req_t"
    assert raw.parse().allowed is True
    assert isinstance(raw.http_response, httpx.Response)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (418, errors.APIError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
    ],
)
async def test_each_error_status_raises_its_class(backend: str, status: int, error_class: type) -> None:
    def fail(received: Received) -> Answer:
        body = {"message": f"nope {status}", "code": "some_code"}
        return status, {"content-type": "application/json", "retry-after": "7"}, json.dumps(body).encode()

    with serve(fail) as srv:
        async with make(backend, srv.url, retry_config=None) as sdk:
            with pytest.raises(error_class) as caught:
                await sdk.balances.check(customer_id="c", feature_id="f")
    error = caught.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.code == "some_code"
    assert str(error).startswith(f"balancesCheck: nope {status}")
    assert isinstance(error.raw_response, httpx.Response)
    assert error.raw_response.headers["retry-after"] == "7"
    if status == 429:
        assert error.retry_after == 7


async def test_a_response_that_does_not_fit_raises_response_validation_error(backend: str) -> None:
    def bad(received: Received) -> Answer:
        return 200, {"content-type": "application/json"}, b'{"allowed": "maybe"}'

    with serve(bad) as srv:
        async with make(backend, srv.url) as sdk:
            with pytest.raises(errors.ResponseValidationError) as caught:
                await sdk.balances.check(customer_id="c", feature_id="f")
    assert caught.value.raw_response.status_code == 200


async def test_retries_resend_the_same_idempotency_key(backend: str) -> None:
    seen: list[Received] = []

    def flaky(received: Received) -> Optional[Answer]:
        seen.append(received)
        if len(seen) == 1:
            return None  # dropped connection
        if len(seen) == 2:
            return 503, {"content-type": "application/json"}, b'{"message": "busy"}'
        return ok(received)

    with serve(flaky) as srv:
        async with make(backend, srv.url, retry_config=FAST_RETRIES) as sdk:
            assert (await sdk.balances.check(customer_id="c", feature_id="f")).allowed
    assert len(seen) == 3
    assert len({r.headers["idempotency-key"] for r in seen}) == 1


async def test_an_attempt_timeout_raises_api_timeout_error(backend: str) -> None:
    def stall(received: Received) -> Answer:
        time.sleep(0.5)
        return ok(received)

    with serve(stall) as srv:
        async with make(backend, srv.url, retry_config=None) as sdk:
            started = time.monotonic()
            with pytest.raises(errors.APITimeoutError) as caught:
                await sdk.balances.check(customer_id="c", feature_id="f", timeout_ms=100)
            assert time.monotonic() - started < 0.45
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


async def test_the_client_timeout_applies_when_the_call_sets_none(backend: str) -> None:
    def stall(received: Received) -> Answer:
        time.sleep(0.5)
        return ok(received)

    with serve(stall) as srv:
        async with make(backend, srv.url, retry_config=None, timeout_ms=100) as sdk:
            with pytest.raises(errors.APITimeoutError):
                await sdk.balances.check(customer_id="c", feature_id="f")


async def test_a_refused_connection_raises_api_connection_error(backend: str) -> None:
    async with make(backend, refused_url(), retry_config=None) as sdk:
        with pytest.raises(errors.APIConnectionError) as caught:
            await sdk.balances.check(customer_id="c", feature_id="f")
    assert not isinstance(caught.value, errors.APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_fail_open_answers_when_the_server_is_unreachable(backend: str) -> None:
    async with make(backend, refused_url(), retry_config=None, fail_open=True) as sdk:
        res = await sdk.balances.check(customer_id="c", feature_id="f")
    assert res.allowed is True
    assert res.fallback_reason == "connection"


class Recorder:
    """A hook that records what it sees and marks each request with a header."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        assert isinstance(request, httpx.Request)
        self.seen.append(f"before {ctx.operation_id}")
        request.headers["x-hooked"] = "yes"
        return request

    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        assert isinstance(response, httpx.Response)
        self.seen.append(f"success {response.status_code}")
        return response

    def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        self.seen.append(f"error {type(error).__name__}")
        return response, error


async def test_hooks_see_httpx_requests_and_responses(backend: str) -> None:
    statuses = iter([500, 200])

    def answer(received: Received) -> Answer:
        status = next(statuses)
        if status == 200:
            return ok(received)
        return status, {"content-type": "application/json"}, b'{"message": "boom"}'

    recorder = Recorder()
    with serve(answer) as srv:
        async with make(backend, srv.url, hooks=[recorder], retry_config=FAST_RETRIES) as sdk:
            assert (await sdk.balances.check(customer_id="c", feature_id="f")).allowed
    assert recorder.seen == [
        "before balancesCheck",
        "error InternalServerError",
        "before balancesCheck",
        "success 200",
    ]
    assert [r.headers["x-hooked"] for r in srv.received] == ["yes", "yes"]


class AsyncRecorder:
    """The same hook with every method an `async def`."""

    def __init__(self) -> None:
        self.sync = Recorder()

    async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        await asyncio.sleep(0)
        return self.sync.before_request(ctx, request)

    async def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        await asyncio.sleep(0)
        return self.sync.after_success(ctx, response)

    async def after_error(
        self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
    ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
        await asyncio.sleep(0)
        return self.sync.after_error(ctx, response, error)


async def test_async_hooks_are_awaited_on_both_backends(backend: str) -> None:
    statuses = iter([500, 200])

    def answer(received: Received) -> Answer:
        if next(statuses) == 200:
            return ok(received)
        return 500, {"content-type": "application/json"}, b'{"message": "boom"}'

    hook = AsyncRecorder()
    with serve(answer) as srv:
        async with make(backend, srv.url, hooks=[hook], retry_config=FAST_RETRIES) as sdk:
            assert (await sdk.balances.check(customer_id="c", feature_id="f")).allowed
    assert hook.sync.seen == [
        "before balancesCheck",
        "error InternalServerError",
        "before balancesCheck",
        "success 200",
    ]
    assert [r.headers["x-hooked"] for r in srv.received] == ["yes", "yes"]


async def test_an_after_error_hook_can_replace_the_error(backend: str) -> None:
    class Replace:
        def after_error(
            self, ctx: HookContext, response: Optional[httpx.Response], error: Optional[Exception]
        ) -> tuple[Optional[httpx.Response], Optional[Exception]]:
            return response, RuntimeError("replaced")

    async with make(backend, refused_url(), retry_config=None, hooks=[Replace()]) as sdk:
        with pytest.raises(RuntimeError, match="replaced"):
            await sdk.balances.check(customer_id="c", feature_id="f")


async def test_many_concurrent_checks_each_get_their_answer(
    sdk: AsyncMeterly, server: LoopbackServer
) -> None:
    results = await asyncio.gather(
        *(sdk.balances.check(customer_id=f"cus_{i}", feature_id="f") for i in range(40))
    )
    assert all(r.allowed for r in results)
    assert sorted(json.loads(r.body)["customer_id"] for r in server.received) == sorted(
        f"cus_{i}" for i in range(40)
    )


def test_successive_event_loops_each_get_a_pool_closed_when_their_loop_ends(
    backend: str, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    # `asyncio.run` twice with one client, then `asyncio.run(client.aclose())`: each loop's pool is closed
    # on its own loop as that loop shuts down, and nothing warns about unclosed sockets or sessions.
    sdk = make(backend, server.url)
    pools: list[Any] = []

    async def one() -> bool:
        allowed = (await sdk.balances.check(customer_id="c", feature_id="f")).allowed
        # pyreqwest's Client.close() does not reliably refuse later requests: its sender records it.
        pools.append(sdk._pool._sender if backend == "pyreqwest" else sdk._http())
        return allowed

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(one()) is True
        assert asyncio.run(one()) is True
        assert pools[0] is not pools[1]
        assert all(is_closed(pool) for pool in pools)

        async def close() -> None:
            await sdk.aclose()

        asyncio.run(close())
        pools.clear()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert [r.getMessage() for r in caught_unclosed(caplog)] == []


def is_closed(pool: Any) -> bool:
    """Whether an engine's HTTP client (for pyreqwest: its sender) was closed."""
    if hasattr(pool, "is_closed"):  # httpx, httpx2
        return bool(pool.is_closed)
    if hasattr(pool, "closed"):  # aiohttp
        return bool(pool.closed)
    return bool(pool._closing)  # pyreqwest's sender, which awaited Client.close()


def caught_unclosed(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "nclosed" in r.getMessage()]


async def test_aclose_in_the_loop_that_opened_the_pool_closes_it(
    backend: str, server: LoopbackServer
) -> None:
    sdk = make(backend, server.url)
    assert (await sdk.balances.check(customer_id="c", feature_id="f")).allowed
    pool = sdk._pool._sender if backend == "pyreqwest" else sdk._http()
    await sdk.aclose()
    assert is_closed(pool)
    with pytest.raises(RuntimeError, match="closed"):
        await sdk.balances.check(customer_id="c", feature_id="f")


async def test_a_borrowed_aiohttp_session_is_used_and_left_open(server: LoopbackServer) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    async with aiohttp.ClientSession() as session:
        async with AsyncMeterly(
            api_key=API_KEY, server_url=server.url, http_backend="aiohttp", client=session
        ) as sdk:
            assert (await sdk.balances.check(customer_id="c", feature_id="f")).allowed
        assert not session.closed


def test_a_wrong_backend_or_client_is_a_clear_error() -> None:
    with pytest.raises(errors.RequestValidationError, match="http_backend"):
        AsyncMeterly(api_key=API_KEY, http_backend="requests")  # type: ignore[arg-type]
    pytest.importorskip("aiohttp")
    with pytest.raises(errors.RequestValidationError, match="client"):
        AsyncMeterly(api_key=API_KEY, http_backend="aiohttp", client=httpx.AsyncClient())


def test_importing_and_using_the_default_client_never_imports_aiohttp_or_asyncio() -> None:
    code = (
        "import sys, meterly; meterly.Meterly(api_key='k'); meterly.AsyncMeterly(api_key='k'); "
        "print(','.join(m for m in ('aiohttp', 'meterly._engines.aiohttp_engine') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_fail_open_machinery_loads_only_for_clients_that_fail_open() -> None:
    code = (
        "import sys, meterly; meterly.Meterly(api_key='k'); loaded = 'meterly._fail_open' in sys.modules; "
        "meterly.Meterly(api_key='k', fail_open=True); "
        "print(loaded, 'meterly._fail_open' in sys.modules, meterly.FailOpenPolicy.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "FailOpenPolicy"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sequential_checks_keep_memory_and_descriptors_flat(server: LoopbackServer) -> None:
    def rss_kb() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    with Meterly(api_key=API_KEY, server_url=server.url) as sdk:
        for _ in range(200):
            sdk.balances.check(customer_id="c", feature_id="f")
        server.received.clear()
        gc.collect()
        rss, fds = rss_kb(), len(os.listdir("/proc/self/fd"))
        for i in range(1500):
            sdk.balances.check(customer_id="c", feature_id="f")
            if i % 100 == 0:
                server.received.clear()  # the test server's record is not the SDK's memory
        server.received.clear()
        gc.collect()
        assert len(os.listdir("/proc/self/fd")) == fds
        assert rss_kb() - rss < 2048
