"""Network backends, for httpcore or its fork httpcore2, that cut every socket operation to the running
attempt's deadline (`meterly._engines.deadline.ATTEMPT_DEADLINE`); they use the public `NetworkBackend`
interface only. Outside an SDK attempt they pass straight through. Where they are put under a client's
pool is each engine's compat module's business (`httpx_compat`, `httpx2_compat`).
"""

from __future__ import annotations

import functools
import ssl
import time
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Type

from meterly._engines.deadline import ATTEMPT_DEADLINE

__all__ = ["STAND_INS", "backends"]

STAND_INS: Dict[ssl.SSLContext, Callable[[], ssl.SSLContext]] = {}
"""TLS contexts a pool holds in place of a real one it should build only when first needed: the real
one, from its function, is what a connection starts TLS with (`httpx_compat.deferred_tls`)."""


def _cut(timeout: Optional[float], expired: Type[Exception]) -> Optional[float]:
    """`timeout`, or less when the attempt's deadline comes first."""
    deadline = ATTEMPT_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the attempt's deadline has passed")
    return left if timeout is None or left < timeout else timeout


def _real(context: ssl.SSLContext) -> ssl.SSLContext:
    """`context`, or the real context a stand-in holds the place of (`STAND_INS`)."""
    build = STAND_INS.get(context)
    return context if build is None else build()


@functools.cache
def backends(core: Any) -> Tuple[Type[Any], Type[Any]]:
    """The (sync, async) deadline backend classes for `core` (`httpcore` or `httpcore2`)."""

    class _Stream(core.NetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
            data: bytes = self._inner.read(max_bytes, _cut(timeout, core.ReadTimeout))
            return data

        def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
            self._inner.write(buffer, _cut(timeout, core.WriteTimeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self,
            ssl_context: ssl.SSLContext,
            server_hostname: Optional[str] = None,
            timeout: Optional[float] = None,
        ) -> Any:
            ssl_context = _real(ssl_context)
            inner = self._inner.start_tls(ssl_context, server_hostname, _cut(timeout, core.ConnectTimeout))
            return _Stream(inner)

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class _Backend(core.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: Optional[float] = None,
            local_address: Optional[str] = None,
            socket_options: Optional[Iterable[Any]] = None,
        ) -> Any:
            timeout = _cut(timeout, core.ConnectTimeout)
            return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

        def connect_unix_socket(
            self, path: str, timeout: Optional[float] = None, socket_options: Optional[Iterable[Any]] = None
        ) -> Any:
            timeout = _cut(timeout, core.ConnectTimeout)
            return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    class _AsyncStream(core.AsyncNetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
            data: bytes = await self._inner.read(max_bytes, _cut(timeout, core.ReadTimeout))
            return data

        async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
            await self._inner.write(buffer, _cut(timeout, core.WriteTimeout))

        async def aclose(self) -> None:
            await self._inner.aclose()

        async def start_tls(
            self,
            ssl_context: ssl.SSLContext,
            server_hostname: Optional[str] = None,
            timeout: Optional[float] = None,
        ) -> Any:
            timeout = _cut(timeout, core.ConnectTimeout)
            ssl_context = _real(ssl_context)
            return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class _AsyncBackend(core.AsyncNetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: Optional[float] = None,
            local_address: Optional[str] = None,
            socket_options: Optional[Iterable[Any]] = None,
        ) -> Any:
            timeout = _cut(timeout, core.ConnectTimeout)
            return _AsyncStream(
                await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            )

        async def connect_unix_socket(
            self, path: str, timeout: Optional[float] = None, socket_options: Optional[Iterable[Any]] = None
        ) -> Any:
            timeout = _cut(timeout, core.ConnectTimeout)
            return _AsyncStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    return _Backend, _AsyncBackend
