"""The wire types the attempt loop and the engines share: a prepared `Call`, a `Received` response.

Engine-neutral: the attempt loop yields a `Call` (or an `httpx.Request` a hook or the debug log needed)
and each engine sends it its own way; an engine that reads responses without httpx answers `Received`,
so an `httpx.Response` is built only when something looks at it.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

import httpx

from meterly._declaration import Operation
from meterly._hooks import HookContext
from meterly._raw import raw_mode
from meterly.utils.retries import RetryConfig

__all__ = [
    "TIME_LEFT",
    "Call",
    "ClientClosed",
    "ClosedBeforeSending",
    "ClosedWhileSending",
    "Discard",
    "Received",
    "httpx_request",
    "never_sent",
]

TIME_LEFT = "meterly.time_left"
"""The request extension that tells a non-httpx sender how many seconds are left of the call's deadline
when the request carries no timeout of its own (so the sender's default applies, cut to that)."""


class Call:
    """One prepared call: everything decided before the first attempt, reused by every retry."""

    __slots__ = (
        "args",
        "body",
        "ctx",
        "headers",
        "op",
        "raw",
        "retry_config",
        "secret",
        "started",
        "time_left",
        "timeout",
        "url",
    )

    op: Operation[Any]
    url: httpx.URL

    def __init__(
        self,
        op: Operation[Any],
        args: Mapping[str, Any],
        body: bytes,
        headers: Dict[str, str],
        url: httpx.URL,
        timeout: Union[httpx.Timeout, Any],
        retry_config: Optional[RetryConfig],
        secret: str,
        ctx: HookContext,
    ) -> None:
        self.op = op
        self.args = args
        self.body = body
        self.headers = headers
        self.url = url
        self.timeout = timeout
        self.retry_config = retry_config
        self.secret = secret
        self.ctx = ctx
        self.raw = raw_mode.get()
        self.time_left: Optional[float] = None
        """Seconds left of the call's deadline as the current attempt starts; None: no deadline."""
        self.started: Optional[float] = None
        """When the call started, on the attempt loop's clock, if before the loop ran (the driver sets it,
        so that setup, such as opening a pool or compiling a model, counts against the deadline)."""

    def to_request(self) -> httpx.Request:
        """This call as an `httpx.Request`, for a backend that has no httpx client to build one."""
        extensions = {"timeout": self.timeout.as_dict()} if isinstance(self.timeout, httpx.Timeout) else {}
        return httpx.Request(
            self.op.method, self.url, content=self.body, headers=self.headers, extensions=extensions
        )


def httpx_request(client: Union[httpx.Client, httpx.AsyncClient], call: Call) -> httpx.Request:
    """`call` as a request of `client`, with the client's own defaults merged in."""
    return client.build_request(
        call.op.method, call.url, content=call.body, headers=call.headers, timeout=call.timeout
    )


class Received:
    """A response as a non-httpx driver read it; the `httpx.Response` is built only when one is needed."""

    __slots__ = ("content", "headers", "request", "status_code")

    def __init__(
        self,
        status_code: int,
        content: bytes,
        headers: Any,
        request: Union[httpx.Request, Call],
    ) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers  # anything `httpx.Headers` accepts; a decoded body has no content-encoding
        self.request = request

    def to_httpx(self) -> httpx.Response:
        """The same response as an `httpx.Response` (what hooks, errors and RawResponse hold)."""
        request = self.request if isinstance(self.request, httpx.Request) else self.request.to_request()
        return httpx.Response(self.status_code, headers=self.headers, content=self.content, request=request)


class Discard:
    """What the attempt loop yields when `response` answered another request: the driver has its sender
    `discard` the connection that carried it (so the pool never hands it out again) and resumes the
    loop with None."""

    __slots__ = ("response",)

    def __init__(self, response: Union[httpx.Response, Received]) -> None:
        self.response = response


class ClientClosed(httpx.TransportError):
    """The client was closed while this call ran: its attempt ends here and is never retried."""


class ClosedBeforeSending(ClientClosed, httpx.ConnectError):
    """The client was closed before this attempt was sent (so it never reached the service)."""


class ClosedWhileSending(ClientClosed, httpx.ReadError):
    """The client was closed while this attempt was out: the request may have reached the service.
    Every engine (`meterly._engines`) raises it for a send its `close()` cut off, and the drive loops
    for any failure that arrives once the pool is closed."""


NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""The transport failures that happen before a request's first byte leaves: no connection was made (DNS,
refused, TLS, connect timeout) or none was free. Every engine raises these httpx classes for its own
connect-phase failures (`meterly._engines.aiohttp_engine` and `pyreqwest_engine` map theirs to them)."""


def never_sent(exc: httpx.RequestError) -> bool:
    """True when the request of a failed attempt certainly never reached the service; False when it may
    have (a reset, a read timeout, a connection closed after sending: the service may have acted)."""
    return isinstance(exc, NEVER_SENT)
