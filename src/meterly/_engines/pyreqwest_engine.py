"""The pyreqwest engine (`pip install 'meterly[pyreqwest]'`, Python 3.11+): Rust's reqwest over hyper and
rustls, sync and async, always the SDK's own client.

Each attempt carries one reqwest timeout for the whole exchange (connect, headers and body): the largest
of the attempt's timeouts, cut to what is left of the call's deadline. Redirects are never followed. A
pyreqwest exception comes out as the httpx exception the pipeline maps. No private attribute is used.

pyreqwest 0.15 can abort the interpreter at exit (`Fatal Python error: PyGILState_Release`) when an attempt
failed just before: its runtime thread still has work from that attempt, reaches for the GIL while the
interpreter finalizes, and Python ends the thread under it. Plain pyreqwest does it too (requests timed
out against a server that never answers, then exit: 3-5 aborts in 40 runs on a loaded 2-core machine).
So a failed attempt is remembered, and at exit (`atexit`, before finalizing) the process waits until
`SETTLE_SECONDS` have passed since the last one. tests/integrity/test_lifecycle.py's first-call script on
this engine, under the same load: 4 aborts in 40 runs without the wait, 0 in 80 with it.
"""

from __future__ import annotations

import atexit
import time
from datetime import timedelta
from typing import Any, Callable, Dict, List, Optional, Tuple, Union, cast

import httpx
from pyreqwest import exceptions as px
from pyreqwest.client import ClientBuilder, SyncClientBuilder

from meterly._engines.seam import ClosedWhileSending, Decoded, owned_timeout
from meterly._redaction import forget_locals
from meterly._wire import TIME_LEFT, Call, Received

__all__ = ["AsyncPyreqwestSender", "PyreqwestSender", "SETTLE_SECONDS", "new_async_client", "new_client"]

SETTLE_SECONDS = 0.25
"""How long after a failed attempt the process waits at exit for pyreqwest's runtime to finish with it."""

_last_failure: List[float] = []
"""`time.monotonic()` of the last failed attempt, when one failed."""


def _settle_at_exit() -> None:
    """Registered with `atexit`: waits out what is left of `SETTLE_SECONDS` since the last failure."""
    if _last_failure:
        left = _last_failure[0] + SETTLE_SECONDS - time.monotonic()
        if left > 0:
            time.sleep(left)


atexit.register(_settle_at_exit)

_ERRORS: Tuple[Tuple[type, type], ...] = (
    (px.ConnectTimeoutError, httpx.ConnectTimeout),
    (px.ReadTimeoutError, httpx.ReadTimeout),
    (px.WriteTimeoutError, httpx.WriteTimeout),
    (px.PoolTimeoutError, httpx.PoolTimeout),
    (px.RequestTimeoutError, httpx.ReadTimeout),
    (px.ConnectError, httpx.ConnectError),
    (px.ReadError, httpx.ReadError),
    (px.WriteError, httpx.WriteError),
    (px.NetworkError, httpx.NetworkError),
    (px.DecodeError, httpx.DecodingError),
    (px.ClientClosedError, ClosedWhileSending),
)


def new_client() -> Any:
    """The SDK's own blocking client: no redirects, no cookies, timeouts set per attempt."""
    builder: Any = SyncClientBuilder()
    return builder.follow_redirects(False).build()


def new_async_client() -> Any:
    """The SDK's own asyncio client (one per event loop)."""
    builder: Any = ClientBuilder()
    return builder.follow_redirects(False).build()


def _httpx_error(exc: BaseException, request: Optional[httpx.Request], closing: bool) -> httpx.RequestError:
    _last_failure[:] = [time.monotonic()]
    cls: Any = ClosedWhileSending if closing else httpx.TransportError
    if not closing:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                cls = target
                break
    if cls is httpx.ConnectError and not _while_connecting(exc):
        # reqwest files "connection closed before message completed" (a kept-alive connection the
        # server dropped, maybe after reading the request) under connect errors too: not "never sent".
        cls = httpx.RemoteProtocolError
    message = str(exc) or type(exc).__name__
    error: httpx.RequestError = cls(message, request=request) if request is not None else cls(message)
    return error


def _while_connecting(exc: BaseException) -> bool:
    """True when reqwest's causes say the connection was never made (hyper's "client error (Connect)")."""
    details: Any = getattr(exc, "details", None) or {}
    causes: List[Any] = details.get("causes") or []
    return any("(Connect)" in str(cause.get("message", "")) for cause in causes)


class _Base:
    __slots__ = ("_closing", "_default", "_last", "_make", "_plain", "_url", "client", "owned")

    def __init__(self, make: Callable[[], Any], timeout: httpx.Timeout) -> None:
        self._make = make
        self.client = make()
        self.owned = True
        self._closing = False
        values = [value for value in timeout.as_dict().values() if value is not None]
        self._default: Optional[float] = max(values) if values else None
        self._last: Tuple[Optional[float], Optional[timedelta]] = (None, None)
        # The last URL and its text: a client's calls nearly always repeat the same `httpx.URL` object.
        self._url: Tuple[Any, str] = (None, "")
        # The last timeouts object given with no deadline cut, and its reqwest timeout.
        self._plain: Tuple[Any, Optional[timedelta]] = (None, None)

    def build_request(self, call: Call) -> httpx.Request:
        return call.to_request()

    def _replace_pool(self) -> None:
        """reqwest exposes no connection handle: to drop the one that carried a misrouted answer, the
        whole pool is replaced (rare). Sends still running on the old pool finish on it."""
        self.client = self._make()

    def _timeout(self, timeouts: Any, left: Optional[float]) -> Optional[timedelta]:
        """One reqwest timeout for the whole attempt; cached, as nearly every call repeats it (the same
        timeouts object with no deadline cut, else the same seconds)."""
        given, plain = self._plain
        if left is None and timeouts is given and plain is not None:
            return plain
        key = timeouts
        if isinstance(timeouts, httpx.Timeout):
            timeouts = timeouts.as_dict()
        seconds: Optional[float]
        if isinstance(timeouts, dict) and timeouts:
            given_dict = cast(Dict[str, Optional[float]], timeouts)
            values = [value for value in given_dict.values() if value is not None]
            seconds = max(values) if values else None
        else:
            seconds = self._default
        if left is not None and (seconds is None or left < seconds):
            seconds = left
        last_seconds, last = self._last
        if seconds == last_seconds and last is not None:
            value: Optional[timedelta] = last
        else:
            value = None if seconds is None else timedelta(seconds=seconds)
            self._last = (seconds, value)
        if left is None:
            self._plain = (key, value)
        return value

    def _builder(self, effect: Union[Call, httpx.Request]) -> Any:
        if isinstance(effect, Call):
            url, text = self._url
            if effect.url is not url:
                text = str(effect.url)
                self._url = (effect.url, text)
            builder = self.client.request(effect.op.method, text).headers(effect.headers)
            builder = builder.body_bytes(effect.body)
            timeout = self._timeout(effect.timeout, effect.time_left)
        else:
            builder = self.client.request(effect.method, str(effect.url)).headers(
                effect.headers.multi_items()
            )
            builder = builder.body_bytes(effect.read())
            timeout = self._timeout(effect.extensions.get("timeout"), effect.extensions.get(TIME_LEFT))
        return builder if timeout is None else builder.timeout(timeout)


class PyreqwestSender(_Base):
    """The `Sender` over a pyreqwest `SyncClient`."""

    __slots__ = ()

    def __init__(self, timeout: httpx.Timeout) -> None:
        super().__init__(new_client, timeout)

    def send(self, effect: Union[Call, httpx.Request]) -> Decoded:
        try:
            response = self._builder(effect).build().send()
            content = bytes(response.bytes())
        except px.PyreqwestError as exc:
            forget_locals(exc)
            request = effect if isinstance(effect, httpx.Request) else None
            raise _httpx_error(exc, request, self._closing) from exc
        return Decoded(response.status, content, response.headers, effect)

    def discard(self, response: Union[httpx.Response, Received]) -> None:
        self._replace_pool()

    def close(self) -> None:
        self._closing = True
        self.client.close()


class AsyncPyreqwestSender(_Base):
    """The `AsyncSender` over a pyreqwest `Client`."""

    __slots__ = ()

    def __init__(self, timeout: httpx.Timeout) -> None:
        super().__init__(new_async_client, timeout)

    async def send(self, effect: Union[Call, httpx.Request]) -> Decoded:
        try:
            response = await self._builder(effect).build().send()
            content = bytes(await response.bytes())
        except px.PyreqwestError as exc:
            forget_locals(exc)
            request = effect if isinstance(effect, httpx.Request) else None
            raise _httpx_error(exc, request, self._closing) from exc
        return Decoded(response.status, content, response.headers, effect)

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        self._replace_pool()

    async def aclose(self) -> None:
        self._closing = True
        await self.client.close()


def sync_sender(client: None, tls: bool = True) -> PyreqwestSender:
    """The SDK's own pyreqwest sender (pyreqwest clients are not injected)."""
    return PyreqwestSender(owned_timeout())


def async_sender(client: None, tls: bool = True) -> AsyncPyreqwestSender:
    """The SDK's own pyreqwest sender for the running loop."""
    return AsyncPyreqwestSender(owned_timeout())
