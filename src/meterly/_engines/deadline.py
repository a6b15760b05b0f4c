"""One attempt, one deadline: headers or a body that trickle in are cut off at the attempt's timeout.

httpx's timeouts bound each socket operation, so a server sending one byte just inside every read
timeout could hold an attempt open for ever. The attempt's deadline is the largest of its timeouts
(connect, read, write, pool), which the pipeline has already cut to what is left of the call's deadline.
While an attempt runs, `ATTEMPT_DEADLINE` holds that deadline: the httpx clients the SDK sends on (its
own, and an injected one's pool while the SDK sends) read it at every socket operation
(`meterly._engines.httpx_compat`), which bounds the headers too; the body is read through
`DeadlineStream`, which raises `httpx.ReadTimeout` once the deadline has passed (also where the compat
module does not apply: a custom transport, an unsupported httpcore).
"""

from __future__ import annotations

import contextlib
import functools
import time
from contextvars import ContextVar
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Optional, Union

import httpx

from meterly._redaction import forget_locals
from meterly._wire import Received

__all__ = [
    "ATTEMPT_DEADLINE",
    "AsyncChecksBeforeRelease",
    "ChecksBeforeRelease",
    "adiscard_connection",
    "asend_within",
    "attempt_budget",
    "discard_connection",
    "send_within",
]

ATTEMPT_DEADLINE: ContextVar[Optional[float]] = ContextVar("meterly_attempt_deadline", default=None)
"""The `time.monotonic()` by which the attempt running in this thread or task must be done."""


def attempt_budget(request: httpx.Request) -> Optional[float]:
    """Seconds one attempt may take, from the timeouts httpx attached to the request; None: no limit."""
    timeouts = request.extensions.get("timeout")
    if not timeouts:
        return None
    values = [value for value in timeouts.values() if value is not None]
    return max(values) if values else None


def _expired(request: httpx.Request, budget: float) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(
        f"the response did not arrive within the attempt's {budget:g} s", request=request
    )


class ChecksBeforeRelease:
    """`close()` for a response stream: runs `_before_release` (once) before closing `_inner`, whose
    close hands the connection back to the pool; once the pool holds it, another request may already be
    sent on it. Mixed into the response streams of httpx (here) and httpx2 (its engine)."""

    _inner: Any
    _before_release: Optional[Callable[[], None]]

    def close(self) -> None:
        before, self._before_release = self._before_release, None
        try:
            if before is not None:
                before()
        finally:
            self._inner.close()


class AsyncChecksBeforeRelease:
    """The asyncio `ChecksBeforeRelease`: `aclose()`."""

    _inner: Any
    _before_release: Optional[Callable[[], Awaitable[None]]]

    async def aclose(self) -> None:
        before, self._before_release = self._before_release, None
        try:
            if before is not None:
                await before()
        finally:
            await self._inner.aclose()


class DeadlineStream(ChecksBeforeRelease, httpx.SyncByteStream):
    """A response body that raises `httpx.ReadTimeout` when it is still arriving past `deadline` (None:
    no deadline), and runs `before_release` when it is closed (`ChecksBeforeRelease`)."""

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        request: httpx.Request,
        deadline: Optional[float],
        budget: float,
        before_release: Optional[Callable[[], None]] = None,
    ):
        self._inner = inner
        self._request = request
        self._deadline = deadline
        self._budget = budget
        self._before_release = before_release

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise _expired(self._request, self._budget)
            yield chunk


class AsyncDeadlineStream(AsyncChecksBeforeRelease, httpx.AsyncByteStream):
    """The asyncio `DeadlineStream`."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        request: httpx.Request,
        deadline: Optional[float],
        budget: float,
        before_release: Optional[Callable[[], Awaitable[None]]] = None,
    ):
        self._inner = inner
        self._request = request
        self._deadline = deadline
        self._budget = budget
        self._before_release = before_release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise _expired(self._request, self._budget)
            yield chunk


def _budget(request: httpx.Request, cap: Optional[float]) -> Optional[float]:
    budget = attempt_budget(request)
    if cap is not None and (budget is None or cap < budget):
        return cap
    return budget


def _handed(transport: httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
    """`request` given straight to `transport`, as `httpx.Client.send` would give it (body unread)."""
    try:
        response = transport.handle_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    response.request = request
    return response


async def _ahanded(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """`_handed` for an async transport."""
    try:
        response = await transport.handle_async_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    response.request = request
    return response


def send_within(
    client: httpx.Client,
    request: httpx.Request,
    cap: Optional[float] = None,
    transport: Optional[httpx.BaseTransport] = None,
    before_release: Optional[Callable[[httpx.Response], None]] = None,
) -> httpx.Response:
    """`client.send(request)`, with the body read before the attempt's deadline or not at all.

    A redirect is never followed, whatever the client's own `follow_redirects`: the 3xx comes back as
    the answer (and becomes an `APIError`), so the key never reaches another address. An exception
    leaves with the frames below this one cleared of their locals (`forget_locals`). `cap`: the most
    seconds the attempt may take whatever the request's own timeouts (an injected client's).
    `transport`: the client's transport for the request's URL, when handing the request straight to it
    leaves out nothing the client's `send` would do (`httpx_compat.transport_for`). `before_release`:
    called with the response once its body is read (or given up), while the connection that carried it
    is still the response's own.
    """
    budget = _budget(request, cap)
    try:
        if budget is None and transport is None and before_release is None:
            return client.send(request, follow_redirects=False)
        deadline = None if budget is None else time.monotonic() + budget
        token = ATTEMPT_DEADLINE.set(deadline)
        try:
            if transport is None:
                response = client.send(request, stream=True, follow_redirects=False)
            else:
                response = _handed(transport, request)
            try:
                stream = response.stream
                if (deadline is not None or before_release is not None) and isinstance(
                    stream, httpx.SyncByteStream
                ):
                    before = None if before_release is None else functools.partial(before_release, response)
                    response.stream = DeadlineStream(stream, request, deadline, budget or 0.0, before)
                response.read()
            except BaseException:
                response.close()
                raise
        finally:
            ATTEMPT_DEADLINE.reset(token)
    except Exception as exc:
        forget_locals(exc)
        raise
    return response


async def asend_within(
    client: httpx.AsyncClient,
    request: httpx.Request,
    cap: Optional[float] = None,
    transport: Optional[httpx.AsyncBaseTransport] = None,
    before_release: Optional[Callable[[httpx.Response], Awaitable[None]]] = None,
) -> httpx.Response:
    """`await client.send(request)`, with the body read before the attempt's deadline or not at all;
    redirects, exceptions, `cap`, `transport` and `before_release` as in `send_within`."""
    budget = _budget(request, cap)
    try:
        if budget is None and transport is None and before_release is None:
            return await client.send(request, follow_redirects=False)
        deadline = None if budget is None else time.monotonic() + budget
        token = ATTEMPT_DEADLINE.set(deadline)
        try:
            if transport is None:
                response = await client.send(request, stream=True, follow_redirects=False)
            else:
                response = await _ahanded(transport, request)
            try:
                stream = response.stream
                if (deadline is not None or before_release is not None) and isinstance(
                    stream, httpx.AsyncByteStream
                ):
                    before = None if before_release is None else functools.partial(before_release, response)
                    response.stream = AsyncDeadlineStream(stream, request, deadline, budget or 0.0, before)
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        finally:
            ATTEMPT_DEADLINE.reset(token)
    except Exception as exc:
        forget_locals(exc)
        raise
    return response


def discard_connection(response: Union[httpx.Response, Received]) -> None:
    """Closes the connection that carried `response`, so the pool never hands it out again (more bytes,
    such as another copy of an answer, may be waiting on it). httpcore closes an idle connection whose
    socket is closed instead of reusing it. A transport that exposes no `network_stream` (a mock) keeps
    no connection to discard."""
    extensions: Any = getattr(response, "extensions", None) or {}
    stream = extensions.get("network_stream")
    close = getattr(stream, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # already closed, or closing failed: either way it is gone
            close()


async def adiscard_connection(response: Union[httpx.Response, Received]) -> None:
    """`discard_connection` for a response of an `httpx.AsyncClient`."""
    extensions: Any = getattr(response, "extensions", None) or {}
    stream = extensions.get("network_stream")
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
