"""The httpx engine's one use of private attributes: the deadline backends (`deadline_io`) put under the
pools of the httpx clients the SDK sends on.

httpx hands each connect, read and write the timeout of its kind, so headers trickling in one byte per
read timeout would keep an attempt alive for ever. The clients the SDK sends on (its own, and an injected
one, whose other users never notice: the backends pass straight through outside an SDK attempt) talk
through these backends instead: while `meterly._engines.deadline.ATTEMPT_DEADLINE` is set, an operation
waits at most until that deadline, and one started after it raises the timeout of its kind.

Guarded: only httpcore 1.x (`SUPPORTED_HTTPCORE`) is patched; any other version keeps httpx's own
per-operation timeouts and `DeadlineStream`, and `tests/unit/engines/test_httpx_compat.py` fails on it so the
guard is revisited before a release claims that version. `httpx2_compat` does the same for httpx2.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import ssl
import time
from types import ModuleType
from typing import Any, Optional

import httpcore

from meterly._engines.deadline_io import STAND_INS, backends

__all__ = [
    "SUPPORTED_HTTPCORE",
    "bound_by_deadline",
    "bound_with",
    "deferred_tls",
    "retire_if_carried_more",
    "sends_plainly",
    "settle",
    "supported",
    "supported_version",
    "transport_for",
]

SUPPORTED_HTTPCORE = (1,)
"""The httpcore major versions whose `HTTPTransport._pool._network_backend` layout this module knows."""


def supported_version(version: str, majors: tuple[int, ...]) -> bool:
    major = version.partition(".")[0]
    return major.isdigit() and int(major) in majors


def supported() -> bool:
    """True when the installed httpcore is one whose private layout this module was written against."""
    return supported_version(httpcore.__version__, SUPPORTED_HTTPCORE)


def _bound_transport(core: ModuleType, transport: object) -> bool:
    """Puts a deadline backend under one transport's pool; False when it has no such pool."""
    sync_backend, async_backend = backends(core)
    pool = getattr(transport, "_pool", None)  # HTTPTransport and AsyncHTTPTransport
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, (sync_backend, async_backend)):
        return True
    if isinstance(backend, core.NetworkBackend):
        pool._network_backend = sync_backend(backend)  # type: ignore[union-attr]
        return True
    if isinstance(backend, core.AsyncNetworkBackend):
        pool._network_backend = async_backend(backend)  # type: ignore[union-attr]
        return True
    return False


def bound_with(core: ModuleType, client: Any) -> bool:
    """`bound_by_deadline` for a client of httpx or of its fork, whose transports use `core`."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    bounded = [_bound_transport(core, transport) for transport in transports if transport is not None]
    return bool(bounded) and bounded[0]


def bound_by_deadline(client: Any) -> bool:
    """Makes an httpx client's transports (proxy mounts included) honour `ATTEMPT_DEADLINE` at every
    socket operation. True when its main transport now does; a client whose transports are built
    differently (or an unsupported httpcore) keeps the per-operation timeouts and `DeadlineStream`."""
    return supported() and bound_with(httpcore, client)


def retire_if_carried_more(client: Any, response: Any) -> bool:
    """Whether the connection that carried `response` already holds bytes past it: a second answer to
    one request (a proxy that sends an answer twice). A server sends nothing on an HTTP/1.1 connection
    before the next request, so the next request sent on it would take that copy for its own answer,
    and an answer that echoes nothing unique to its request (Autumn's `check`) cannot tell.

    When it does, the connection's HTTP state is marked failed (h11's `send_failed`), so httpcore closes
    it as the response closes instead of making it idle; the caller also closes its socket. Closing the
    socket alone is not enough: a request the pool has already assigned to the connection would still
    send on it, fail to write, and then read the buffered copy as its answer (httpcore reads a response
    even when writing the request failed), while its request never reached the server.

    Reads the pool of the client's transport for the response's URL (httpcore's or httpcore2's, whose
    layout is the same) and the h11 state of the connection whose network stream carried the response;
    False for any other layout (HTTP/2, a mock transport, an unsupported release)."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return False
    try:
        connections = client._transport_for_url(response.request.url)._pool.connections
    except (AttributeError, RuntimeError):  # no pool; RuntimeError: a response without its request
        return False
    for connection in connections:
        inner = getattr(connection, "_connection", None)
        if getattr(inner, "_network_stream", None) is stream:
            h11_state: Any = getattr(inner, "_h11_state", None)
            trailing = getattr(h11_state, "trailing_data", None)
            if not (trailing and trailing[0]):
                return False
            with contextlib.suppress(Exception):  # an h11 that cannot: the socket is still closed
                h11_state.send_failed()
            return True
    return False


@functools.cache
def _verified_context() -> ssl.SSLContext:
    """The context httpx would have built for `verify=True` (SSL_CERT_FILE and SSL_CERT_DIR honoured),
    built once, at the first https connection of an SDK client that deferred it."""
    import httpx

    return httpx.create_ssl_context()


@functools.cache
def deferred_tls() -> Optional[ssl.SSLContext]:
    """A stand-in `verify=` context for an SDK-owned client whose servers are all `http://`; None when
    TLS can't be deferred (an unsupported httpcore).

    Building httpx's verified context loads the CA bundle (tens of ms, under the GIL: 48 threads each
    opening a client wait for one another). The deadline backends (`deadline_io`) start TLS with the
    real context instead of the stand-in (`STAND_INS`), building it at the first https connection
    only. Should the stand-in ever reach a handshake itself, it fails closed: it verifies, and trusts
    no CA."""
    if not supported():
        return None
    stand_in = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    STAND_INS[stand_in] = _verified_context
    return stand_in


_SEND_STEPS = (
    "build_request",
    "send",
    "_send_handling_auth",
    "_send_handling_redirects",
    "_send_single_request",
    "_transport_for_url",
)
"""What an httpx client does between `send(request)` and its transport, in httpx 0.28 and 0.29 (and
httpx2, which keeps their layout)."""


def sends_plainly(client: object, base: type) -> bool:
    """Whether `client`'s class sends as `base` (httpx's or httpx2's own `Client` or `AsyncClient`)
    does, and `base` has the layout `transport_for` knows. A subclass that changes how a request is
    built or sent (a tracing wrapper, say) is always sent through its own `send`."""
    cls = type(client)
    return all(
        getattr(base, step, None) is not None and getattr(cls, step, None) is getattr(base, step)
        for step in _SEND_STEPS
    )


def transport_for(client: Any, url: Any, log: logging.Logger) -> Any:
    """The transport `client.send` would give a request for `url` (its mounts and proxies honoured), or
    None when giving the request straight to it would leave out something `send` does: the client is
    closed (`send` raises), has event hooks or auth, has cookies to send, or its request log (`log`) is
    on. Only for a client that `sends_plainly`; `settle` does the rest of `send`'s work."""
    hooks = client.event_hooks
    if (
        client.is_closed
        or hooks["request"]
        or hooks["response"]
        or client.auth is not None
        or client.cookies
        or log.isEnabledFor(logging.INFO)
    ):
        return None
    return client._transport_for_url(url)


def settle(client: Any, response: Any, started: float) -> None:
    """What `client.send` does with a response its transport answered (`transport_for`) once the body
    is read: keep the cookies it sets, give it the client's default encoding, and its `elapsed` from
    `started` (`time.perf_counter()`)."""
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    response.default_encoding = client._default_encoding
    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
