"""The seam every engine plugs into: `Sender`/`AsyncSender`, the errors and helpers engines share,
and the registry of engines (imported lazily, by name)."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Dict, Literal, Optional, Tuple, Union

import httpx
from typing_extensions import Protocol

from meterly._config import DEFAULT_TIMEOUT_MS
from meterly._wire import (
    Call,
    ClientClosed,
    ClosedBeforeSending,
    ClosedWhileSending,
    Received,
    never_sent,
)

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "ENGINES",
    "NEEDS_PYTHON_311",
    "AsyncSender",
    "ClientClosed",
    "ClosedBeforeSending",
    "ClosedWhileSending",
    "Decoded",
    "HttpBackend",
    "Sender",
    "SyncHttpBackend",
    "capped",
    "cut_seconds",
    "engine_module",
    "engine_of_client",
    "never_sent",
    "owned_timeout",
]

HttpBackend = Literal["httpx", "httpx2", "pyreqwest", "aiohttp"]
"""The engines `AsyncMeterly(http_backend=...)` takes."""
SyncHttpBackend = Literal["httpx", "httpx2", "pyreqwest"]
"""The engines `Meterly(http_backend=...)` takes."""

ENGINES: Dict[str, Tuple[str, str, bool]] = {
    # name: (module, extra to install, has a sync engine)
    "httpx": ("meterly._engines.httpx_engine", "", True),
    "httpx2": ("meterly._engines.httpx2_engine", "httpx2", True),
    "pyreqwest": ("meterly._engines.pyreqwest_engine", "pyreqwest", True),
    "aiohttp": ("meterly._engines.aiohttp_engine", "aiohttp", False),
}
NEEDS_PYTHON_311 = frozenset({"httpx2", "pyreqwest"})
"""The engines whose extras install on Python 3.11 and later only (the core keeps 3.10)."""


# A send cut off by closing its client is `ClosedWhileSending` (from `meterly._wire`, where the attempt
# loop reads it): engines raise it, and the clients' drive loops raise it too when the pool was closed
# while an attempt was out. `never_sent` is the one rule telling a failure before any byte could reach
# the server (a write is then safe to resend) from one after.


class Sender(Protocol):
    """Sends one attempt over one pool (sync)."""

    @property
    def client(self) -> Any:
        """The pool it sends over (an `httpx.Client`, `httpx2.Client`, pyreqwest `SyncClient`)."""
        ...

    def build_request(self, call: Call) -> httpx.Request:
        """The `httpx.Request` hooks and the debug log see for `call`."""
        ...

    def send(self, effect: Union[Call, httpx.Request]) -> Union[httpx.Response, Received]:
        """Send one attempt and read its whole response within the attempt's deadline."""
        ...

    def discard(self, response: Union[httpx.Response, Received]) -> None:
        """Close the connection that carried `response` instead of keeping it alive for another call."""
        ...

    def close(self) -> None:
        """Close the pool (the SDK's own only); sends still running raise `ClosedWhileSending`."""
        ...


class AsyncSender(Protocol):
    """Sends one attempt over one pool (asyncio); the same shape as `Sender`."""

    @property
    def client(self) -> Any:
        """The pool it sends over (an `httpx.AsyncClient`, `httpx2.AsyncClient`, `aiohttp.ClientSession`,
        pyreqwest `Client`)."""
        ...

    def build_request(self, call: Call) -> httpx.Request: ...

    async def send(self, effect: Union[Call, httpx.Request]) -> Union[httpx.Response, Received]: ...

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        """Close the connection that carried `response`; awaitable, as an asyncio stream closes so."""
        ...

    async def aclose(self) -> None: ...


_DECODED_AWAY = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class Decoded(Received):
    """A response an engine read with its body already decoded: the httpx view drops the encoding
    headers. `extensions` keeps what `discard` needs to find the connection."""

    __slots__ = ("extensions",)

    def __init__(
        self,
        status_code: int,
        content: bytes,
        headers: Any,
        request: Union[httpx.Request, Call],
        extensions: Any = None,
    ) -> None:
        super().__init__(status_code, content, headers, request)
        self.extensions = extensions

    def to_httpx(self) -> httpx.Response:
        headers = self.headers
        self.headers = [
            (name, value)
            for name, value in (headers.items() if hasattr(headers, "items") else headers)
            if (name.decode("latin-1") if isinstance(name, bytes) else name).lower() not in _DECODED_AWAY
        ]
        return super().to_httpx()


def cut_seconds(values: Any, left: Optional[float]) -> Any:
    """A timeout dict with every value cut to `left` seconds (None: unchanged)."""
    if left is None:
        return values
    return {name: left if value is None or value > left else value for name, value in values.items()}


def engine_module(name: str, param: str = "http_backend") -> ModuleType:
    """The module of engine `name`, imported now; a missing extra is a `RequestValidationError` that
    names the package to install."""
    from meterly.errors import RequestValidationError

    module_name, extra, _ = ENGINES[name]
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        needs_311 = name in NEEDS_PYTHON_311 and sys.version_info < (3, 11)
        version = " (Python 3.11 or later)" if needs_311 else ""
        raise RequestValidationError(
            param, f"{name!r} needs the {extra} package{version}: pip install 'meterly[{extra}]'"
        ) from exc


def engine_of_client(client: Any) -> Optional[str]:
    """The engine that sends over an injected `client`, by its class's top-level package; None for a
    client no engine takes. Checks the class's module only, so no optional package gets imported."""
    for cls in type(client).__mro__:
        package = cls.__module__.partition(".")[0]
        if package in ("httpx", "httpx2", "aiohttp"):
            return package
    return None


def owned_timeout() -> httpx.Timeout:
    """The per-attempt timeout of the pools the SDK creates."""
    return httpx.Timeout(DEFAULT_TIMEOUT_MS / 1000)


def capped(value: Optional[float]) -> float:
    """An injected client's own per-attempt timeout, cut to the SDK's: the SDK's deadline holds whatever
    the client was built with."""
    default = DEFAULT_TIMEOUT_MS / 1000
    return default if value is None or value > default else value
