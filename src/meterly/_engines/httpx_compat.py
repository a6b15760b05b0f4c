"""The httpx engine's one use of private attributes: httpcore network backends that cut every socket operation to the running attempt's deadline.

httpx hands each connect, read and write the timeout of its kind, so headers trickling in one byte per
read timeout would keep an attempt alive for ever. The HTTP clients the SDK creates talk through these
backends instead: while `meterly._engines.deadline.ATTEMPT_DEADLINE` is set (an SDK attempt runs in this thread
or task), an operation waits at most until that deadline, and one started after it raises the timeout of
its kind. Outside an SDK attempt they pass straight through. Loaded with the first SDK-owned client.

Guarded: only httpcore 1.x (`SUPPORTED_HTTPCORE`) is patched; any other version keeps httpx's own
per-operation timeouts and `DeadlineStream`, and `tests/unit/test_engine_compat.py` fails on it so the
guard is revisited before a release claims that version.
"""

from __future__ import annotations

import ssl
import time
from typing import Any, Iterable, Optional, Type

import httpcore
import httpx

from meterly._engines.deadline import ATTEMPT_DEADLINE

__all__ = ["SUPPORTED_HTTPCORE", "bound_by_deadline", "supported"]

SUPPORTED_HTTPCORE = (1,)
"""The httpcore major versions whose `HTTPTransport._pool._network_backend` layout this module knows."""


def supported() -> bool:
    """True when the installed httpcore is one whose private layout this module was written against."""
    major = httpcore.__version__.partition(".")[0]
    return major.isdigit() and int(major) in SUPPORTED_HTTPCORE


def _cut(timeout: Optional[float], expired: Type[Exception]) -> Optional[float]:
    """`timeout`, or less when the attempt's deadline comes first."""
    deadline = ATTEMPT_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the attempt's deadline has passed")
    return left if timeout is None or left < timeout else timeout


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout))
        return _Stream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: Optional[Iterable[Any]] = None,
    ) -> httpcore.NetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: Optional[float] = None, socket_options: Optional[Iterable[Any]] = None
    ) -> httpcore.NetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return await self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        await self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: Optional[Iterable[Any]] = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: Optional[float] = None, socket_options: Optional[Iterable[Any]] = None
    ) -> httpcore.AsyncNetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _bound_transport(transport: object) -> bool:
    """Puts a deadline backend under one httpx transport's pool; False when it has no such pool."""
    pool = getattr(transport, "_pool", None)  # httpx.HTTPTransport and AsyncHTTPTransport
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, (_Backend, _AsyncBackend)):
        return True
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
        return True
    if isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
        return True
    return False


def bound_by_deadline(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Makes an SDK-created client's transports (proxy mounts included) honour `ATTEMPT_DEADLINE` at
    every socket operation. True when its main transport now does; an httpx whose transports are built
    differently keeps the per-operation timeouts and `DeadlineStream`."""
    if not supported():
        return False
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    bounded = [_bound_transport(transport) for transport in transports if transport is not None]
    return bool(bounded) and bounded[0]
