"""The httpx2 engine (`pip install 'meterly[httpx2]'`, Python 3.11+): Pydantic's fork of httpx, over the
SDK's own `httpx2.Client`/`AsyncClient` or an injected one.

httpx2 has httpx's API under another name, so this engine translates at the seam: a `Call` (or a hook's
`httpx.Request`) becomes an `httpx2.Request`, the answer comes back as a `Decoded` response, and an
httpx2 exception as the httpx exception of the same name. Each socket operation is cut to the attempt's
deadline (`httpx2_compat`, the one place with private attributes), the attempt's timeouts are cut to
the call's deadline and, for an injected client, to the SDK's, and the body is read within the
attempt's deadline or not at all.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, List, Optional, Tuple, Union

import httpx
import httpx2

from meterly._engines.deadline import (
    ATTEMPT_DEADLINE,
    AsyncChecksBeforeRelease,
    ChecksBeforeRelease,
    adiscard_connection,
    discard_connection,
)
from meterly._engines.httpx2_compat import bound_by_deadline
from meterly._engines.httpx_compat import sends_plainly, transport_for
from meterly._engines.httpx_engine import HeaderSets, aretire_carrier, retire_carrier
from meterly._engines.seam import ClosedWhileSending, Decoded, capped, cut_seconds, owned_timeout
from meterly._redaction import forget_locals
from meterly._wire import TIME_LEFT, Call, Received

__all__ = ["AsyncHttpx2Sender", "Httpx2Sender", "new_async_client", "new_client"]


def new_client(timeout: httpx.Timeout) -> httpx2.Client:
    """The SDK's own sync httpx2 client."""
    return httpx2.Client(timeout=httpx2.Timeout(**timeout.as_dict()))


def new_async_client(timeout: httpx.Timeout) -> httpx2.AsyncClient:
    """The SDK's own async httpx2 client (one per event loop)."""
    return httpx2.AsyncClient(timeout=httpx2.Timeout(**timeout.as_dict()))


def _httpx_error(exc: BaseException, request: Optional[httpx.Request]) -> httpx.RequestError:
    """The httpx exception of the same name as an httpx2 one (the pipeline maps httpx's)."""
    cls: Any = httpx.TransportError
    for base in type(exc).__mro__:
        candidate = getattr(httpx, base.__name__, None)
        if isinstance(candidate, type) and issubclass(candidate, httpx.RequestError):
            cls = candidate
            break
    message = str(exc) or type(exc).__name__
    error: httpx.RequestError = cls(message, request=request) if request is not None else cls(message)
    return error


_LOG = logging.getLogger("httpx2")
"""httpx2's own request log: while it is on, requests go through the client's `send`, which writes it."""


class _Base:
    __slots__ = ("_closing", "_default", "_headers", "_plain", "_urls", "client", "owned")

    def __init__(self, client: Any, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self._closing = False
        bound_by_deadline(client)
        # As in the httpx engine: a client of httpx2's own classes is given the requests the SDK builds
        # itself, straight to its transport, while that leaves out nothing.
        self._plain = sends_plainly(
            client, httpx2.AsyncClient if isinstance(client, httpx2.AsyncClient) else httpx2.Client
        )
        self._headers = HeaderSets(httpx2.Headers)
        self._urls: Dict[int, Tuple[httpx.URL, Any]] = {}
        own = client.timeout
        values = {"connect": own.connect, "read": own.read, "write": own.write, "pool": own.pool}
        self._default: Dict[str, Optional[float]] = (
            values if owned else {name: capped(value) for name, value in values.items()}
        )

    def build_request(self, call: Call) -> httpx.Request:
        return call.to_request()

    def _request(self, effect: Union[Call, httpx.Request]) -> Tuple[Any, float, Optional[httpx.Request]]:
        """The httpx2 request for `effect`, its whole-attempt budget, and the httpx request if any."""
        if isinstance(effect, Call):
            timeout = effect.timeout
            values = timeout.as_dict() if isinstance(timeout, httpx.Timeout) else self._default
            values = cut_seconds(values, effect.time_left)
            request = self._direct(effect, values)
            if request is None:
                request = self.client.build_request(
                    effect.op.method,
                    str(effect.url),
                    content=effect.body,
                    headers=effect.headers,
                    timeout=httpx2.Timeout(**values),
                )
            original = None
        else:
            values = effect.extensions.get("timeout") or self._default
            values = cut_seconds(values, effect.extensions.get(TIME_LEFT))
            request = self.client.build_request(
                effect.method,
                str(effect.url),
                content=effect.read(),
                headers=effect.headers.multi_items(),
                timeout=httpx2.Timeout(**values),
            )
            original = effect
        set_values = [value for value in values.values() if value is not None]
        budget = max(set_values) if set_values else float("inf")
        return request, budget, original

    def _direct(self, call: Call, timeouts: Dict[str, Optional[float]]) -> Any:
        """The request the client's `build_request` would make for `call`, built directly (None when
        the client has default query parameters or cookies to merge in, or its headers set Host)."""
        client = self.client
        if not self._plain or client.params or client.cookies:
            return None
        merged = self._headers.merged(client.headers, call.headers)
        if merged is None:
            return None
        request = httpx2.Request(
            call.op.method, self._url(call.url), content=call.body, extensions={"timeout": dict(timeouts)}
        )
        request.headers = self._headers.complete(request.headers.raw, merged, call.headers)
        return request

    def _url(self, url: httpx.URL) -> Any:
        """`url` as an `httpx2.URL`, kept while the same `httpx.URL` (a prepared target) comes back."""
        kept = self._urls.get(id(url))
        if kept is not None and kept[0] is url:
            return kept[1]
        if len(self._urls) >= _MAX_URLS:
            self._urls.clear()
        converted = httpx2.URL(str(url))
        self._urls[id(url)] = (url, converted)
        return converted

    def _transport(self, request: Any) -> Any:
        """The transport to hand `request` to directly, or None to send it through the client."""
        return transport_for(self.client, request.url, _LOG) if self._plain else None

    def _failed(self, exc: BaseException, original: Optional[httpx.Request]) -> BaseException:
        forget_locals(exc)
        if self._closing:
            return ClosedWhileSending(
                "the client was closed while this request was being sent", request=original
            )
        if isinstance(exc, httpx.RequestError):
            return exc
        return _httpx_error(exc, original)


_MAX_URLS = 64
"""Converted URLs kept per client before they are all dropped."""


def _expired(budget: float, original: Optional[httpx.Request]) -> httpx.ReadTimeout:
    message = f"the response did not arrive within the attempt's {budget:g} s"
    return (
        httpx.ReadTimeout(message, request=original) if original is not None else httpx.ReadTimeout(message)
    )


class _Released(ChecksBeforeRelease, httpx2.SyncByteStream):
    """A response body that runs `before_release` when it is closed, before its connection goes back to
    the pool (`ChecksBeforeRelease`)."""

    def __init__(self, inner: httpx2.SyncByteStream, before_release: Callable[[], None]) -> None:
        self._inner = inner
        self._before_release = before_release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner


class _AsyncReleased(AsyncChecksBeforeRelease, httpx2.AsyncByteStream):
    """The asyncio `_Released`."""

    def __init__(self, inner: httpx2.AsyncByteStream, before_release: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._before_release = before_release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk


class Httpx2Sender(_Base):
    """The `Sender` over an `httpx2.Client`."""

    __slots__ = ()

    def send(self, effect: Union[Call, httpx.Request]) -> Decoded:
        request, budget, original = self._request(effect)
        deadline = time.monotonic() + budget
        transport = self._transport(request)
        token = ATTEMPT_DEADLINE.set(deadline if budget != float("inf") else None)
        try:
            if transport is None:
                response = self.client.send(request, stream=True, follow_redirects=False)
            else:
                response = transport.handle_request(request)
                response.request = request
            if isinstance(response.stream, httpx2.SyncByteStream):
                release = functools.partial(retire_carrier, self.client, response)
                response.stream = _Released(response.stream, release)
            try:
                chunks: List[bytes] = []
                for chunk in response.iter_bytes():
                    if time.monotonic() > deadline:
                        raise _expired(budget, original)
                    chunks.append(chunk)
            finally:
                response.close()
        except (httpx2.TransportError, httpx.TransportError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._closing:
                raise
            raise self._failed(exc, original) from exc
        finally:
            ATTEMPT_DEADLINE.reset(token)
        if transport is not None and "set-cookie" in response.headers:
            self.client.cookies.extract_cookies(response)
        return Decoded(
            response.status_code,
            b"".join(chunks),
            response.headers.multi_items(),
            effect,
            response.extensions,
        )

    def discard(self, response: Union[httpx.Response, Received]) -> None:
        discard_connection(response)

    def close(self) -> None:
        self._closing = True
        if self.owned:
            self.client.close()


class AsyncHttpx2Sender(_Base):
    """The `AsyncSender` over an `httpx2.AsyncClient`."""

    __slots__ = ()

    async def send(self, effect: Union[Call, httpx.Request]) -> Decoded:
        request, budget, original = self._request(effect)
        deadline = time.monotonic() + budget
        transport = self._transport(request)
        token = ATTEMPT_DEADLINE.set(deadline if budget != float("inf") else None)
        try:
            if transport is None:
                response = await self.client.send(request, stream=True, follow_redirects=False)
            else:
                response = await transport.handle_async_request(request)
                response.request = request
            if isinstance(response.stream, httpx2.AsyncByteStream):
                release = functools.partial(aretire_carrier, self.client, response)
                response.stream = _AsyncReleased(response.stream, release)
            try:
                chunks: List[bytes] = []
                async for chunk in response.aiter_bytes():
                    if time.monotonic() > deadline:
                        raise _expired(budget, original)
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except (httpx2.TransportError, httpx.TransportError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._closing:
                raise
            raise self._failed(exc, original) from exc
        finally:
            ATTEMPT_DEADLINE.reset(token)
        if transport is not None and "set-cookie" in response.headers:
            self.client.cookies.extract_cookies(response)
        return Decoded(
            response.status_code,
            b"".join(chunks),
            response.headers.multi_items(),
            effect,
            response.extensions,
        )

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        await adiscard_connection(response)

    async def aclose(self) -> None:
        self._closing = True
        if self.owned:
            await self.client.aclose()


def sync_sender(client: Optional[httpx2.Client], tls: bool = True) -> Httpx2Sender:
    """The sender over `client`, or over a client of the SDK's own (None)."""
    if client is None:
        return Httpx2Sender(new_client(owned_timeout()), True)
    return Httpx2Sender(client, False)


def async_sender(client: Optional[httpx2.AsyncClient], tls: bool = True) -> AsyncHttpx2Sender:
    """The sender over `client`, or over a client of the SDK's own for the running loop (None)."""
    if client is None:
        return AsyncHttpx2Sender(new_async_client(owned_timeout()), True)
    return AsyncHttpx2Sender(client, False)
