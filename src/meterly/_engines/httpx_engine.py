"""The httpx engine (the default), sync and async: over the SDK's own client or an injected one.

Every socket operation of an SDK send is cut to the attempt's deadline (`httpx_compat`, which also
serves an injected client's pool, and only while the SDK sends on it) and the body is read within it
(`DeadlineStream`). An injected client keeps its own timeouts as its requests' timeouts, but an attempt
using them ends within the SDK's attempt timeout (`capped`): the SDK's deadline holds whatever the
client was built with. The SDK's own clients keep no cookies.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import httpx

from meterly._engines.deadline import adiscard_connection, asend_within, discard_connection, send_within
from meterly._engines.seam import ClosedWhileSending, capped, owned_timeout
from meterly._redaction import forget_locals
from meterly._wire import Call, Received

__all__ = ["AsyncHttpxSender", "HttpxSender", "OwnedAsyncClient", "OwnedClient"]


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


class _Base:
    __slots__ = ("_cap", "_closing", "_own_timeouts", "client", "owned")

    def __init__(self, client: Any, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self._closing = False
        own = client.timeout.as_dict()
        self._own_timeouts = own
        values = [value for value in own.values() if value is not None]
        # The SDK's own client carries the SDK's timeout; an injected one's attempts are capped to it.
        self._cap: Optional[float] = None if owned else capped(max(values) if values else None)
        if not owned:
            from meterly._engines.httpx_compat import bound_by_deadline

            bound_by_deadline(client)

    def build_request(self, call: Call) -> httpx.Request:
        request: httpx.Request = self.client.build_request(
            call.op.method, call.url, content=call.body, headers=call.headers, timeout=call.timeout
        )
        return request

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
        try:
            return send_within(self.client, request, self.cap(request))
        except (httpx.TransportError, RuntimeError) as exc:
            closed = self._closed_under(exc, request)
            if closed is exc:
                raise
            forget_locals(exc)
            raise closed from exc

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
        try:
            return await asend_within(self.client, request, self.cap(request))
        except httpx.TransportError as exc:
            closed = self._closed_under(exc, request)
            if closed is exc:
                raise
            forget_locals(exc)
            raise closed from exc

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
