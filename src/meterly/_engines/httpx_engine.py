"""The httpx engine (the default), sync and async: over the SDK's own client or an injected one.

Every socket operation of an SDK send is cut to the attempt's deadline (`httpx_compat`, which also
serves an injected client's pool, and only while the SDK sends on it) and the body is read within it
(`DeadlineStream`). An injected client keeps its own timeouts as its requests' timeouts, but an attempt
using them ends within the SDK's attempt timeout (`capped`): the SDK's deadline holds whatever the
client was built with. The SDK's own clients keep no cookies.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Dict, List, Optional, Tuple, Union

import httpx

from meterly._engines.deadline import adiscard_connection, asend_within, discard_connection, send_within
from meterly._engines.httpx_compat import retire_if_carried_more, sends_plainly, settle, transport_for
from meterly._engines.seam import ClosedWhileSending, capped, owned_timeout
from meterly._redaction import forget_locals
from meterly._wire import Call, Received

__all__ = ["AsyncHttpxSender", "HeaderSets", "HttpxSender", "OwnedAsyncClient", "OwnedClient"]


class _NoCookies(httpx.Cookies):
    """A cookie store that stays empty: Meterly sets no cookies, and feeding every response through the
    standard library's cookie jar costs tens of microseconds a call."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class _Cookieless:
    """Mixed into the httpx clients the SDK creates (never into one a caller passes in)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise AttributeError("the HTTP client Meterly creates keeps no cookies")


class OwnedClient(_Cookieless, httpx.Client):
    """The `httpx.Client` a `Meterly` creates for itself; its sockets honour each attempt's deadline.
    `tls=False` (every configured server is `http://`): no TLS context until an https connection."""

    def __init__(self, tls: bool = True, **kwargs: Any) -> None:
        from meterly._engines.httpx_compat import bound_by_deadline, deferred_tls

        stand_in = None if tls else deferred_tls()
        if stand_in is not None:
            kwargs["verify"] = stand_in
        super().__init__(**kwargs)
        if not bound_by_deadline(self) and stand_in is not None:  # no backend to swap the real one in
            raise RuntimeError("the deferred TLS context needs meterly's deadline backends")


class OwnedAsyncClient(_Cookieless, httpx.AsyncClient):
    """The `httpx.AsyncClient` an `AsyncMeterly` creates for itself; its sockets honour each attempt's
    deadline."""

    def __init__(self, tls: bool = True, **kwargs: Any) -> None:
        from meterly._engines.httpx_compat import bound_by_deadline, deferred_tls

        stand_in = None if tls else deferred_tls()
        if stand_in is not None:
            kwargs["verify"] = stand_in
        super().__init__(**kwargs)
        if not bound_by_deadline(self) and stand_in is not None:  # no backend to swap the real one in
            raise RuntimeError("the deferred TLS context needs meterly's deadline backends")


_SET_BY_REQUEST = (b"host", b"content-length", b"transfer-encoding")
"""Headers `httpx.Request` sets from its URL and body unless given."""
_MAX_HEADER_SETS = 64
"""Merged header sets kept per client before they are all dropped (per-call `http_headers` keep coming)."""


class HeaderSets:
    """A client's headers merged with a call's, as the client's `build_request` merges them, kept by
    both: a call's headers differ from the last call's only by the idempotency key, and merging
    (encoding, case-folding) costs more than the rest of building a request (`bench/overhead.py`).
    For httpx and httpx2 alike (`headers_class`: either one's `Headers`)."""

    __slots__ = ("_class", "_sets")

    def __init__(self, headers_class: Any) -> None:
        self._class = headers_class
        self._sets: Dict[Any, Optional[List[Tuple[bytes, bytes]]]] = {}

    def merged(self, client_headers: Any, headers: Dict[str, str]) -> Optional[List[Tuple[bytes, bytes]]]:
        """`client_headers` with `headers` but the idempotency key merged over them, encoded; None when
        they set Host, Content-Length or Transfer-Encoding (then the client's `build_request` decides)."""
        static = tuple([item for item in headers.items() if item[0] != "idempotency-key"])
        entry = (tuple(client_headers.raw), static)
        sets = self._sets
        if entry in sets:
            return sets[entry]
        merged = self._class(client_headers)
        merged.update(dict(static))
        if "idempotency-key" in merged:
            del merged["idempotency-key"]
        raw: Optional[List[Tuple[bytes, bytes]]] = merged.raw
        if any(name.lower() in _SET_BY_REQUEST for name, _ in merged.raw):
            raw = None
        if len(sets) >= _MAX_HEADER_SETS:
            sets.clear()
        sets[entry] = raw
        return raw

    def complete(
        self, auto: List[Tuple[bytes, bytes]], merged: List[Tuple[bytes, bytes]], headers: Dict[str, str]
    ) -> Any:
        """A request's headers: `auto` (the Host and Content-Length a request built without headers
        set), then `merged`, then the call's idempotency key."""
        key = headers.get("idempotency-key")
        extra = [(b"idempotency-key", key.encode("ascii"))] if key is not None else []
        return self._class([*auto, *merged, *extra])


_LOG = logging.getLogger("httpx")
"""httpx's own request log: while it is on, requests go through the client's `send`, which writes it."""


def retire_carrier(client: Any, response: Any) -> None:
    """Before the connection that carried `response` goes back to `client`'s pool: closes it when it holds
    a second answer (`retire_if_carried_more`). The httpx2 engine's too."""
    if retire_if_carried_more(client, response):
        discard_connection(response)


async def aretire_carrier(client: Any, response: Any) -> None:
    """`retire_carrier` for an async client."""
    if retire_if_carried_more(client, response):
        await adiscard_connection(response)


class _Base:
    __slots__ = ("_cap", "_closing", "_headers", "_own_timeouts", "_plain", "client", "owned")

    def __init__(self, client: Any, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self._closing = False
        self._headers = HeaderSets(httpx.Headers)
        # A client of httpx's own classes (or of the SDK's, which only drop cookies) is given the
        # requests the SDK builds itself, straight to its transport, while that leaves out nothing.
        self._plain = sends_plainly(
            client, httpx.AsyncClient if isinstance(client, httpx.AsyncClient) else httpx.Client
        )
        own = client.timeout.as_dict()
        self._own_timeouts = own
        values = [value for value in own.values() if value is not None]
        # The SDK's own client carries the SDK's timeout; an injected one's attempts are capped to it.
        self._cap: Optional[float] = None if owned else capped(max(values) if values else None)
        if not owned:
            from meterly._engines.httpx_compat import bound_by_deadline

            bound_by_deadline(client)

    def build_request(self, call: Call) -> httpx.Request:
        """The client's request for `call`: what its `build_request` would make, built directly when the
        client has no default query parameters or cookies to merge in."""
        client = self.client
        timeout = call.timeout
        if timeout is httpx.USE_CLIENT_DEFAULT:
            timeout = client.timeout
        if self._plain and isinstance(timeout, httpx.Timeout) and not client.params and not client.cookies:
            merged = self._headers.merged(client.headers, call.headers)
            if merged is not None:
                direct = httpx.Request(
                    call.op.method, call.url, content=call.body, extensions={"timeout": timeout.as_dict()}
                )
                direct.headers = self._headers.complete(direct.headers.raw, merged, call.headers)
                return direct
        request: httpx.Request = client.build_request(
            call.op.method, call.url, content=call.body, headers=call.headers, timeout=call.timeout
        )
        return request

    def _transport(self, request: httpx.Request) -> Any:
        """The transport to hand `request` to directly, or None to send it through the client."""
        return transport_for(self.client, request.url, _LOG) if self._plain else None

    def cap(self, request: httpx.Request) -> Optional[float]:
        """The SDK's cap on an attempt of an injected client that runs on the client's own timeouts."""
        if self._cap is None or request.extensions.get("timeout") != self._own_timeouts:
            return None
        return self._cap

    def _closed_under(self, exc: BaseException, request: Optional[httpx.Request]) -> BaseException:
        if not self._closing:
            return exc
        return ClosedWhileSending("the client was closed while this request was being sent", request=request)


class HttpxSender(_Base):
    """The `Sender` over an `httpx.Client`."""

    __slots__ = ()

    def send(self, effect: Union[Call, httpx.Request]) -> httpx.Response:
        request = effect if isinstance(effect, httpx.Request) else self.build_request(effect)
        transport = self._transport(request)
        started = time.perf_counter()
        try:
            before_release = functools.partial(retire_carrier, self.client)
            response = send_within(self.client, request, self.cap(request), transport, before_release)
        except (httpx.TransportError, RuntimeError) as exc:
            closed = self._closed_under(exc, request)
            if closed is exc:
                raise
            forget_locals(exc)
            raise closed from exc
        if transport is not None:
            settle(self.client, response, started)
        return response

    def discard(self, response: Union[httpx.Response, Received]) -> None:
        discard_connection(response)

    def close(self) -> None:
        self._closing = True
        if self.owned:
            self.client.close()


class AsyncHttpxSender(_Base):
    """The `AsyncSender` over an `httpx.AsyncClient`."""

    __slots__ = ()

    async def send(self, effect: Union[Call, httpx.Request]) -> httpx.Response:
        request = effect if isinstance(effect, httpx.Request) else self.build_request(effect)
        transport = self._transport(request)
        started = time.perf_counter()
        try:
            before_release = functools.partial(aretire_carrier, self.client)
            response = await asend_within(self.client, request, self.cap(request), transport, before_release)
        except httpx.TransportError as exc:
            closed = self._closed_under(exc, request)
            if closed is exc:
                raise
            forget_locals(exc)
            raise closed from exc
        if transport is not None:
            settle(self.client, response, started)
        return response

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        await adiscard_connection(response)

    async def aclose(self) -> None:
        self._closing = True
        if self.owned:
            await self.client.aclose()


def sync_sender(client: Optional[httpx.Client], tls: bool = True) -> HttpxSender:
    """The sender over `client`, or over a client of the SDK's own (None); `tls`: see `OwnedClient`."""
    if client is None:
        return HttpxSender(OwnedClient(tls, timeout=owned_timeout()), True)
    return HttpxSender(client, False)


def async_sender(client: Optional[httpx.AsyncClient], tls: bool = True) -> AsyncHttpxSender:
    """The sender over `client`, or over a client of the SDK's own for the running loop (None)."""
    if client is None:
        return AsyncHttpxSender(OwnedAsyncClient(tls, timeout=owned_timeout()), True)
    return AsyncHttpxSender(client, False)
