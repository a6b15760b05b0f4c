"""The aiohttp engine's one use of private attributes: a direct send that skips what
`ClientSession._request` does for features an SDK call never uses.

An SDK attempt is one absolute URL, a bytes body, its own headers and one deadline, with no redirect
followed. `ClientSession._request` spends most of its time on what such a request does not need:
re-parsing the URL, merging default headers, the cookie jar, auth, proxies, tracing, middlewares,
redirects, building `ClientRequest` and `ClientResponse` and a task that writes the body. `send` does
the rest of it on the same pieces: the session's connector (pool, limits, DNS, TLS), its connections'
`ResponseHandler` (aiohttp's own parser, decompression, keep-alive rules) and aiohttp's header
serialiser (which refuses a CR or LF in a header), and it sends the bytes aiohttp would send.

`Direct.of(session)` is None for a session that uses any of what is skipped (a subclass, trace configs,
middlewares, default auth or proxy, `trust_env`, a base URL, skipped auto headers, another request or
response class, HTTP/1.0, `raise_for_status`, a connector that overrides how connections are taken and
given back); `Direct.route` is None, per call, while the session is closed, has default headers or
holds cookies. The engine then sends through `ClientSession.request` as before.

Guarded: only aiohttp releases in `SUPPORTED_AIOHTTP` are sent on directly; any other keeps the session
path. Older releases down to the extra's lower bound (aiohttp 3.10) take that path on purpose, and
`make environments` runs the engine suites on the lowest one; a release newer than every known one fails
`tests/unit/engines/test_aiohttp_compat.py`, so the guard is revisited before a release claims it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, cast

import aiohttp
from aiohttp import hdrs, http, http_writer
from aiohttp.client_exceptions import (
    ClientOSError,
    ClientResponseError,
    ConnectionTimeoutError,
)
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest, ClientResponse, RequestInfo
from aiohttp.connector import BaseConnector
from aiohttp.helpers import TimerContext, TimerNoop
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = ["SUPPORTED_AIOHTTP", "Direct", "supported"]

_serialize_headers = cast(
    Callable[[str, "CIMultiDict[str]"], bytes],
    http_writer._serialize_headers,  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType]
)
"""aiohttp's own request-head serialiser (its C one when built): it refuses a CR or LF in a header."""

SUPPORTED_AIOHTTP = ((3, 14),)
"""The aiohttp (major, minor) releases whose `ClientSession`, `BaseConnector` and `ResponseHandler`
internals `Direct` was written against."""

_NO_CONNECT_TIMEOUT = aiohttp.ClientTimeout()
"""What `connect` is given: the attempt's one timer (`send`) bounds connecting too, as it does on the
session path, where a request's `ClientTimeout(total=...)` sets no connect timeouts."""
_CONNECTOR_STEPS = ("connect", "_get", "_release", "_release_acquired")
"""How a connector takes and gives back connections: a connector class that overrides any of them is
used through the session (overriding `_create_connection`, how a connection is made, is fine)."""
_SESSION_STEPS = ("request", "_request", "_prepare_headers", "_build_url")
"""How a session sends: a session class that overrides any of them is used through itself."""


def supported(version: Optional[str] = None) -> bool:
    """True when `version` of aiohttp (the installed one: None) is one whose private layout this module
    knows."""
    parts = (aiohttp.__version__ if version is None else version).split(".")
    return (
        len(parts) >= 2
        and all(p.isdigit() for p in parts[:2])
        and (int(parts[0]), int(parts[1])) in SUPPORTED_AIOHTTP
    )


class _Route:
    """What a direct send to one URL reuses: a request the connector reads the pool key and the TLS and
    DNS settings from (shared by concurrent sends: without a proxy, `connect` only reads it), the
    request target and the `Host` header."""

    __slots__ = ("host", "request", "target", "url")

    def __init__(self, request: ClientRequest, url: URL) -> None:
        self.request = request
        self.url = url
        self.target = url.raw_path_qs
        host = url.host_port_subcomponent
        assert host is not None
        self.host = host


class Direct:
    """Direct sends over one session whose setup `of` found plain."""

    __slots__ = ("_auto", "_loop", "_routes", "session")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self._loop: asyncio.AbstractEventLoop = session._loop  # pyright: ignore[reportPrivateUsage]
        self._routes: Dict[URL, Optional[_Route]] = {}
        auto = dict(ClientRequest.DEFAULT_HEADERS)
        auto[hdrs.USER_AGENT] = http.SERVER_SOFTWARE
        self._auto: Tuple[Tuple[str, str], ...] = tuple(auto.items())

    @classmethod
    def of(cls, session: Any) -> Optional[Direct]:
        """The direct sender for `session`, or None when `session` uses something `send` skips (or
        this aiohttp is not one the module knows)."""
        if not supported() or not isinstance(session, aiohttp.ClientSession):
            return None
        if any(
            getattr(type(session), step) is not getattr(aiohttp.ClientSession, step)
            for step in _SESSION_STEPS
        ):
            return None
        s: Any = session
        connector = s._connector
        if (
            s._trace_configs
            or s._middlewares
            or s._default_auth is not None
            or s._default_proxy is not None
            or s._default_proxy_auth is not None
            or s._trust_env
            or s._base_url is not None
            or s._skip_auto_headers
            or s._version != http.HttpVersion11
            or s._raise_for_status is not False
            or s._request_class is not ClientRequest
            or s._response_class is not ClientResponse
            or not isinstance(connector, BaseConnector)
            or any(
                getattr(type(connector), step) is not getattr(BaseConnector, step)
                for step in _CONNECTOR_STEPS
            )
        ):
            return None
        return cls(session)

    def route(self, url: URL) -> Optional[_Route]:
        """How to send to `url` directly now, or None when the session must send it: it is closed, has
        default headers or cookies, or `url` is not a plain absolute http(s) URL."""
        session: Any = self.session
        if session.closed or session._default_headers or len(session._cookie_jar):
            return None
        try:
            return self._routes[url]
        except KeyError:
            pass
        if len(self._routes) >= 64:  # calls go to one URL per operation; a bound all the same
            self._routes.clear()
        route = None
        if (
            url.absolute
            and url.raw_host
            and url.scheme in session._connector.allowed_protocol_schema_set
            and not (url.raw_user or url.raw_password or url.raw_fragment)
        ):
            request = ClientRequest("GET", url, loop=self._loop, session=session)
            route = _Route(request, url)
        self._routes[url] = route
        return route

    async def send(
        self,
        route: _Route,
        method: str,
        body: bytes,
        headers: Mapping[str, str],
        total: Optional[float],
    ) -> Tuple[int, bytes, Any, ResponseHandler]:
        """Sends one request and reads its whole answer: (status, body, raw headers, the connection's
        protocol, already back in the pool or closed). Connect, headers and body are all bounded by
        `total` seconds. Raises what `ClientSession.request` would (aiohttp's exceptions,
        `asyncio.TimeoutError` when `total` runs out)."""
        loop = self._loop
        timer: Any
        handle: Optional[asyncio.TimerHandle] = None
        if total is not None and total > 0:
            timer = TimerContext(loop)
            handle = loop.call_at(loop.time() + total, timer.timeout)
        else:
            timer = TimerNoop()
        try:
            with timer:
                try:
                    conn, message, payload = await self._start(route, method, body, headers, timer)
                except aiohttp.ClientError:
                    raise
                except OSError as exc:
                    if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                        raise
                    raise ClientOSError(*exc.args) from exc
                protocol = conn.protocol
                try:
                    content = await payload.read()
                    cookies = message.headers.getall(hdrs.SET_COOKIE, ())
                    if cookies:
                        self.session.cookie_jar.update_cookies_from_headers(tuple(cookies), route.url)
                except BaseException:
                    conn.close()
                    raise
                conn.release()
                assert protocol is not None
                return message.code, content, message.raw_headers, protocol
        finally:
            if handle is not None:
                handle.cancel()

    async def _start(
        self, route: _Route, method: str, body: bytes, headers: Mapping[str, str], timer: Any
    ) -> Tuple[Any, Any, Any]:
        """Takes a connection, writes the request and reads the answer's head: (connection, message,
        payload stream)."""
        session: Any = self.session
        connector: Any = session._connector
        try:
            conn = await connector.connect(route.request, traces=[], timeout=_NO_CONNECT_TIMEOUT)
        except asyncio.TimeoutError as exc:
            raise ConnectionTimeoutError(f"Connection timeout to host {route.url}") from exc
        try:
            protocol = conn.protocol
            assert protocol is not None
            protocol.set_response_params(
                timer=timer,
                skip_payload=method == "HEAD",
                read_until_eof=True,
                auto_decompress=session._auto_decompress,
                read_timeout=None,
                read_bufsize=session._read_bufsize,
                timeout_ceil_threshold=connector._timeout_ceil_threshold,
                max_line_size=session._max_line_size,
                max_field_size=session._max_field_size,
                max_headers=session._max_headers,
            )
            transport = protocol.transport
            if transport is None or transport.is_closing():
                raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")
            transport.write(_head(self._auto, route, method, body, headers, connector.force_close) + body)
            while True:
                try:
                    message, payload = await protocol.read()
                except http.HttpProcessingError as exc:
                    info = RequestInfo(route.url, method, CIMultiDictProxy(CIMultiDict[str]()), route.url)
                    raise ClientResponseError(
                        info, (), status=exc.code, message=exc.message, headers=exc.headers
                    ) from exc
                code = message.code
                if code < 100 or code > 199 or code == 101:
                    return conn, message, payload
        except BaseException:
            conn.close()
            raise


def _head(
    auto: Tuple[Tuple[str, str], ...],
    route: _Route,
    method: str,
    body: bytes,
    headers: Mapping[str, str],
    force_close: bool,
) -> bytes:
    """The request line and headers aiohttp would send for these (`ClientRequest`'s rules: `Host`
    first, the caller's headers, then its defaults for what they leave out)."""
    merged: CIMultiDict[str] = CIMultiDict()
    merged[hdrs.HOST] = route.host
    for name, value in headers.items():
        if name in hdrs.HOST_ALL:
            merged[name] = value
        else:
            merged.add(name, value)
    for name, value in auto:
        if name not in merged:
            merged[name] = value
    if hdrs.CONTENT_LENGTH not in merged:  # a bytes body, even empty, is sent with its length
        merged[hdrs.CONTENT_LENGTH] = str(len(body))
    if hdrs.CONTENT_TYPE not in merged:
        merged[hdrs.CONTENT_TYPE] = "application/octet-stream"
    if force_close and hdrs.CONNECTION not in merged:
        merged[hdrs.CONNECTION] = "close"
    return _serialize_headers(f"{method} {route.target} HTTP/1.1", merged)
