"""The optional aiohttp send path of `AsyncMeterly(http_backend="aiohttp")`; `pip install meterly[aiohttp]`.

Only sending differs: the shared pipeline still decides hooks, errors, retries and fail-open. aiohttp's
exceptions come out as the httpx exceptions the pipeline maps (a timeout as `httpx.ReadTimeout` or
`httpx.ConnectTimeout`, a refused connection as `httpx.ConnectError`, ...), with the aiohttp one as cause.
This module is imported only when that backend is chosen.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple, Union, cast

import aiohttp
import httpx
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from meterly._redaction import forget_locals
from meterly._wire import TIME_LEFT, Call, Received

# aiohttp hands back a decoded body, so the httpx view must not decode it again.
_DECODED_AWAY = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


def client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """The aiohttp equivalent of an httpx per-attempt timeout: one `total` for the whole attempt, body
    included (the largest of its timeouts), as `meterly._deadline` bounds an httpx attempt. One timer per
    attempt: separate connect and read timers would each cost an event-loop handle and add no bound."""
    values = [v for v in (timeout.connect, timeout.read, timeout.write, timeout.pool) if v is not None]
    return aiohttp.ClientTimeout(total=max(values) if values else None)


def new_session(timeout: httpx.Timeout) -> aiohttp.ClientSession:
    """An SDK-owned session for the running event loop, with the SDK's default attempt timeout and no
    cookie jar (Meterly sets no cookies)."""
    return aiohttp.ClientSession(
        timeout=client_timeout(timeout), auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
    )


class AiohttpSender:
    """The `AsyncSender` over one `aiohttp.ClientSession`: it returns `Received` responses, and builds no
    httpx object unless a hook or the debug log asks for one."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.client = session
        # The last URL and timeout seen and their aiohttp forms: a client's calls nearly always repeat them.
        self._url_key: Optional[httpx.URL] = None
        self._url_value = URL()
        self._timeout_key: Any = None
        self._timeout_value: Any = aiohttp.helpers.sentinel

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
        value = client_timeout(timeout) if isinstance(timeout, httpx.Timeout) else aiohttp.helpers.sentinel
        self._timeout_key, self._timeout_value = key, value  # sentinel: the session's own timeout
        return value

    def build_request(self, call: Call) -> httpx.Request:
        return call.to_request()

    def _cut(self, timeout: Any, left: float) -> Any:
        """`timeout`, or a shorter one when only `left` seconds remain of the call's deadline."""
        total = self.client.timeout.total if timeout is aiohttp.helpers.sentinel else timeout.total
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
            protocol = connection.protocol if connection is not None else None
            try:
                content = await response.read()  # reads to the end and hands the connection back
            finally:
                response.release()
            received = _Received(response.status, content, response.raw_headers, effect)
            received.protocol = protocol
            return received
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            forget_locals(exc)
            raise _httpx_error(exc, request) from exc

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        """Closes the connection that carried `response`: the pool drops a closed one instead of reusing
        it. The loop asks for this right after the answer is read, with no await in between, so the
        connection handed back to the pool is still idle."""
        protocol = getattr(response, "protocol", None)
        if protocol is not None:
            protocol.close()


def _headers(effect: Union[Call, httpx.Request]) -> Union[Dict[str, str], List[Tuple[str, str]]]:
    """The headers to send, handed straight to aiohttp (so no frame of `send` holds them)."""
    return effect.headers if isinstance(effect, Call) else effect.headers.multi_items()


class _Received(Received):
    """A response read by aiohttp: its body is already decoded, so the httpx view drops the encoding."""

    __slots__ = ("protocol",)

    protocol: Optional[ResponseHandler]
    """The connection it arrived on (closed by `AiohttpSender.discard`)."""

    def to_httpx(self) -> httpx.Response:
        self.headers = [item for item in self.headers if item[0].lower() not in _DECODED_AWAY]
        return super().to_httpx()


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
