"""The aiohttp engine of `AsyncMeterly(http_backend="aiohttp")` or of an injected `aiohttp.ClientSession`;
`pip install meterly[aiohttp]`.

A call on a session that uses none of what an SDK call doesn't need (trace configs, middlewares,
default headers, cookies, ...) is sent past `ClientSession._request`, on the session's own connector and
parser (`aiohttp_compat`, the one place with aiohttp's private attributes); any other request goes
through `ClientSession.request`. Only sending differs: the shared pipeline still decides hooks, errors,
retries and fail-open. aiohttp's exceptions come out as the httpx exceptions the pipeline maps (a
timeout as `httpx.ReadTimeout` or `httpx.ConnectTimeout`, a refused connection as `httpx.ConnectError`,
...), with the aiohttp one as cause.
This module is imported only when that backend is chosen.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple, Union, cast

import aiohttp
import httpx
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from meterly._engines.aiohttp_compat import Direct
from meterly._engines.seam import ClosedWhileSending, Decoded, capped, owned_timeout
from meterly._redaction import forget_locals
from meterly._wire import TIME_LEFT, Call, Received


def client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """The aiohttp equivalent of an httpx per-attempt timeout: one `total` for the whole attempt, body
    included (the largest of its timeouts), as `meterly._engines.deadline` bounds an httpx attempt. One
    timer per attempt: separate connect and read timers would each cost an event-loop handle and add no
    bound."""
    values = [v for v in (timeout.connect, timeout.read, timeout.write, timeout.pool) if v is not None]
    return aiohttp.ClientTimeout(total=max(values) if values else None)


def new_session(timeout: httpx.Timeout) -> aiohttp.ClientSession:
    """An SDK-owned session for the running event loop, with the SDK's default attempt timeout and no
    cookie jar (Meterly sets no cookies)."""
    return aiohttp.ClientSession(
        timeout=client_timeout(timeout), auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
    )


class AiohttpSender:
    """The `AsyncSender` over one `aiohttp.ClientSession`: it returns `Decoded` responses, and builds no
    httpx object unless a hook or the debug log asks for one.

    An injected session's own timeout is cut to the SDK's attempt timeout (a default session's is five
    minutes, which would let a silent server hold a call that long)."""

    def __init__(self, session: aiohttp.ClientSession, owned: bool = True) -> None:
        self.client = session
        self.owned = owned
        self._closing = False
        total = session.timeout.total
        self._session_total = total if owned else capped(total)
        # The last URL and timeout seen and their aiohttp forms: a client's calls nearly always repeat them.
        self._url_key: Optional[httpx.URL] = None
        self._url_value = URL()
        self._timeout_key: Any = None
        self._timeout_value: Any = aiohttp.helpers.sentinel
        self._direct = Direct.of(session)

    def _url(self, url: httpx.URL) -> URL:
        if url is not self._url_key:
            self._url_value = URL(str(url), encoded=True)
            self._url_key = url
        return self._url_value

    def _timeout(self, timeout: Any) -> Any:
        """The aiohttp timeout of an attempt given an `httpx.Timeout` (or its dict form)."""
        if timeout is self._timeout_key:
            return self._timeout_value
        key = timeout
        if isinstance(timeout, dict):  # an httpx.Request's "timeout" extension
            timeout = httpx.Timeout(**cast(Dict[str, Optional[float]], timeout))
        value: Any
        if isinstance(timeout, httpx.Timeout):
            value = client_timeout(timeout)
        elif self.owned:
            value = aiohttp.helpers.sentinel  # the session's own timeout
        else:
            value = aiohttp.ClientTimeout(total=self._session_total)
        self._timeout_key, self._timeout_value = key, value
        return value

    def build_request(self, call: Call) -> httpx.Request:
        return call.to_request()

    def _cut(self, timeout: Any, left: float) -> Any:
        """`timeout`, or a shorter one when only `left` seconds remain of the call's deadline."""
        total = self._session_total if timeout is aiohttp.helpers.sentinel else timeout.total
        if total is not None and total <= left:
            return timeout
        return aiohttp.ClientTimeout(total=left)

    async def send(self, effect: Union[Call, httpx.Request]) -> Received:
        """Send one attempt; transport failures are raised as `httpx.RequestError` subclasses.

        The headers (key included) are never bound to a local here, and aiohttp's frames are cleared of
        theirs before its exception leaves (`forget_locals`): error trackers print frame locals. A
        redirect is never followed: the 3xx is the answer.
        """
        request: Optional[httpx.Request]
        if isinstance(effect, Call):
            request = None
            method, url, body = effect.op.method, self._url(effect.url), effect.body
            timeout = self._timeout(effect.timeout)
            left = effect.time_left
            direct = self._direct
            route = direct.route(url) if direct is not None else None
            if route is not None:
                assert direct is not None
                total = self._session_total if timeout is aiohttp.helpers.sentinel else timeout.total
                if left is not None and (total is None or left < total):
                    total = left
                try:
                    status, content, raw_headers, carrier = await direct.send(
                        route, method, body, effect.headers, total
                    )
                except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as exc:
                    if isinstance(exc, RuntimeError) and not self._closing:
                        raise
                    raise self._failure(exc, None) from exc
                return Decoded(status, content, raw_headers, effect, carrier)
        else:
            request = effect
            method, url = effect.method, URL(str(effect.url), encoded=True)
            body = effect.read()
            timeout = self._timeout(effect.extensions.get("timeout"))
            left = effect.extensions.get(TIME_LEFT)
        if left is not None:
            timeout = self._cut(timeout, left)
        try:
            response = await self.client.request(
                method, url, data=body, headers=_headers(effect), timeout=timeout, allow_redirects=False
            )
            connection = response.connection
            # Kept before `release()` hands the connection back: `discard` closes exactly this one.
            protocol = connection.protocol if connection is not None else None
            try:
                content = await response.read()  # reads to the end and hands the connection back
            finally:
                response.release()
            return Decoded(response.status, content, response.raw_headers, effect, protocol)
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._closing:
                raise
            raise self._failure(exc, request) from exc

    def _failure(self, exc: BaseException, request: Optional[httpx.Request]) -> Exception:
        """What `send` raises for an exception of aiohttp's (or asyncio's) `exc`, whose frames it clears
        of their locals."""
        forget_locals(exc)
        if self._closing:
            return ClosedWhileSending("the client was closed while this request was being sent")
        return _httpx_error(exc, request)

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        """Closes the connection that carried `response`: the pool drops a closed one instead of reusing
        it. The loop asks for this right after the answer is read, with no await in between, so the
        connection handed back to the pool is still idle."""
        protocol = getattr(response, "extensions", None)
        if isinstance(protocol, ResponseHandler):
            protocol.close()

    async def aclose(self) -> None:
        self._closing = True
        if self.owned:
            await self.client.close()


def _headers(effect: Union[Call, httpx.Request]) -> Union[Dict[str, str], List[Tuple[str, str]]]:
    """The headers to send, handed straight to aiohttp (so no frame of `send` holds them)."""
    return effect.headers if isinstance(effect, Call) else effect.headers.multi_items()


def _httpx_error(exc: BaseException, request: Optional[httpx.Request]) -> httpx.RequestError:
    """The httpx exception the pipeline maps for an aiohttp one (a timeout as `httpx.ReadTimeout` or
    `httpx.ConnectTimeout`, a refused connection as `httpx.ConnectError`, ...)."""
    cls: type[httpx.RequestError]
    if isinstance(exc, aiohttp.ServerTimeoutError):
        connect = isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ())) or "connect" in str(exc)
        cls = httpx.ConnectTimeout if connect else httpx.ReadTimeout
    elif isinstance(exc, asyncio.TimeoutError):  # the attempt's `total` ran out
        cls = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        cls = httpx.ConnectError
    elif isinstance(
        exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError)
    ):
        cls = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientOSError):
        cls = httpx.ReadError
    else:
        cls = httpx.TransportError
    message = str(exc) or type(exc).__name__
    return cls(message, request=request) if request is not None else cls(message)


def async_sender(client: Optional[aiohttp.ClientSession], tls: bool = True) -> AiohttpSender:
    """The sender over `client`, or over a session of the SDK's own for the running loop (None)."""
    if client is None:
        return AiohttpSender(new_session(owned_timeout()), True)
    return AiohttpSender(client, False)
