"""No key in the frame locals of a failed call's traceback, on every engine.

Error trackers (Sentry), `rich` and `traceback.TracebackException(capture_locals=True)` print the local
variables of every frame of an exception and of the exceptions chained to it. A failed call (refused,
an error status, a timeout, a dropped connection) must leave no key there: not in the SDK's frames, and
not in those of the HTTP library below it.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any, Callable

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors, models

from ..loopback import Answer, Received, refused_url, serve
from .faultserver import Fault, always, fault_server

BEARER = "sk_live_BEARER_c0ffee0123456789"
HEADER = "sk_live_HEADER_feedface98765432"
KEYS = (BEARER, HEADER)
ENGINES = ["sync", "sync-httpx2", "sync-pyreqwest", "httpx", "httpx2", "pyreqwest", "aiohttp"]
"""`sync[-engine]` is a `Meterly` (httpx by default), the others an `AsyncMeterly` of that engine."""


def chained(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception chained to it, through `__cause__` and `__context__`."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        exc = pending.pop()
        if id(exc) not in seen:
            seen.add(id(exc))
            yield exc
            pending += [linked for linked in (exc.__cause__, exc.__context__) if linked is not None]


def frames(error: BaseException) -> Iterator[FrameType]:
    """Every frame of every traceback of `error` and the exceptions chained to it."""
    for exc in chained(error):
        tb = exc.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next


def locals_showing_a_key(error: BaseException) -> list[str]:
    """`file:function:name` of every local whose repr shows a key, in any frame."""
    found: list[str] = []
    for frame in frames(error):
        for name, value in frame.f_locals.items():
            try:
                text = repr(value)
            except Exception:  # a repr that fails shows nothing
                continue
            if any(key in text for key in KEYS):
                found.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}:{name}")
    return found


def failed_call(engine: str, url: str, operation: str, **options: Any) -> BaseException:
    """The exception one call of `operation` raised (a test failure when it raised none)."""
    security = models.Security(bearer_auth=BEARER, api_key_auth=HEADER)
    settings: dict[str, Any] = {"security": security, "server_url": url, "retry_config": None, **options}
    if operation == "balances.check":
        call: Callable[[Any], Any] = lambda sdk: sdk.balances.check(customer_id="c", feature_id="f")  # noqa: E731
    else:
        call = lambda sdk: sdk.usage.check(customer_id="c", feature_code="f")  # noqa: E731
    if engine.startswith("sync"):
        backend: Any = engine.partition("-")[2] or "httpx"
        with Meterly(http_backend=backend, **settings) as sdk:
            try:
                call(sdk)
            except errors.MeterlyError as exc:
                return exc
        raise AssertionError("the call did not fail")

    async def run() -> BaseException:
        async with AsyncMeterly(http_backend=engine, **settings) as sdk:  # type: ignore[arg-type]
            try:
                await call(sdk)
            except errors.MeterlyError as exc:
                return exc
        raise AssertionError("the call did not fail")

    return asyncio.run(run())


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    package = str(request.param).rpartition("-")[2]
    if package not in ("sync", "httpx"):
        pytest.importorskip(package)
    return str(request.param)


@pytest.fixture(params=["balances.check", "usage.check"])
def operation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def assert_no_key_in_any_frame(error: BaseException) -> None:
    assert list(frames(error)), "the error carries no traceback to inspect"
    assert locals_showing_a_key(error) == []
    # What an error tracker would print: the whole chain, every frame's locals.
    printed = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert not any(key in printed for key in KEYS)


def test_a_refused_connection_leaves_no_key_in_any_frame(engine: str, operation: str) -> None:
    error = failed_call(engine, refused_url(), operation)
    assert isinstance(error, errors.APIConnectionError)
    assert error.__cause__ is not None  # the library's exception, with its own frames, is kept
    assert_no_key_in_any_frame(error)


def test_an_error_status_leaves_no_key_in_any_frame(engine: str, operation: str) -> None:
    def unauthorized(received: Received) -> Answer:
        return 401, {"content-type": "application/json"}, b'{"message": "unknown key"}'

    with serve(unauthorized) as server:
        error = failed_call(engine, server.url, operation)
    assert isinstance(error, errors.AuthenticationError)
    assert_no_key_in_any_frame(error)


def test_a_timeout_leaves_no_key_in_any_frame(engine: str, operation: str) -> None:
    with fault_server(always(Fault.STALL), stall_seconds=1) as server:
        error = failed_call(engine, server.url, operation, timeout_ms=100)
    assert isinstance(error, errors.APITimeoutError)
    assert_no_key_in_any_frame(error)


@pytest.mark.parametrize("fault", [Fault.DROP_BEFORE_READ, Fault.DROP_AFTER_READ, Fault.RESET_AFTER_READ])
def test_a_dropped_connection_leaves_no_key_in_any_frame(engine: str, fault: Fault) -> None:
    with fault_server(always(fault)) as server:
        error = failed_call(engine, server.url, "usage.check")
    assert isinstance(error, errors.APIConnectionError)
    assert_no_key_in_any_frame(error)


def test_with_a_debug_logger_and_an_injected_client_no_key_is_left_either(engine: str) -> None:
    # The debug log makes the pipeline build an httpx.Request for each attempt, and an injected client
    # sends through its own transport: the other send paths.
    debug = logging.getLogger("tests.traceback_locals")
    options: dict[str, Any] = {"debug_logger": debug}
    if engine == "sync":
        options["client"] = httpx.Client()
    elif engine in ("sync-httpx2", "httpx2"):
        import httpx2

        options["client"] = httpx2.Client() if engine == "sync-httpx2" else httpx2.AsyncClient()
    error = failed_call(engine, refused_url(), "usage.check", **options)
    assert isinstance(error, errors.APIConnectionError)
    assert_no_key_in_any_frame(error)
    if engine in ("sync", "sync-httpx2"):
        options["client"].close()


def test_an_exception_object_raised_on_every_attempt_keeps_the_calls_working() -> None:
    # A transport that raises the same exception object each time: its traceback carries the frames of
    # earlier attempts, including the SDK's suspended pipeline, which must not be closed by clearing.
    refused = httpx.ConnectError("refused")

    def handler(request: httpx.Request) -> httpx.Response:
        raise refused

    client = httpx.Client(transport=httpx.MockTransport(handler))
    sdk = Meterly(api_key=HEADER, client=client)
    for _ in range(2):
        with pytest.raises(errors.APIConnectionError) as caught:
            sdk.usage.check(customer_id="c", feature_code="f")
        assert caught.value.attempts > 1
        assert locals_showing_a_key(caught.value) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"server_url": "ftp://nowhere"},
        {"timeout_ms": 0},
        {"http_headers": {"x-trace": "a\r\nb"}},
        {"retries": "always"},
    ],
    ids=lambda bad: next(iter(bad)),
)
def test_a_bad_argument_found_after_the_key_was_fetched_leaves_no_key_in_any_frame(
    engine: str, bad: dict[str, Any]
) -> None:
    settings: dict[str, Any] = {"security": models.Security(bearer_auth=BEARER, api_key_auth=HEADER)}

    async def run() -> BaseException:
        sdk = AsyncMeterly(http_backend=engine, **settings)  # type: ignore[arg-type]
        try:
            await sdk.usage.check(customer_id="c", feature_code="f", **bad)
        except errors.RequestValidationError as exc:
            return exc
        raise AssertionError("the call did not fail")

    if engine.startswith("sync"):
        backend: Any = engine.partition("-")[2] or "httpx"
        with pytest.raises(errors.RequestValidationError) as caught:
            Meterly(http_backend=backend, **settings).usage.check(customer_id="c", feature_code="f", **bad)
        error: BaseException = caught.value
    else:
        error = asyncio.run(run())
    assert_no_key_in_any_frame(error)
