"""`Meterly` and `AsyncMeterly`: the clients. Each owns (or borrows) an httpx client and drives the
shared pipeline; the only difference between them is how a request is sent and how a wait is slept."""

from __future__ import annotations

import builtins
import contextlib
import copy
import functools
import logging
import os
import threading
import time
import weakref
from types import FunctionType, TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Type,
    TypeVar,
    Union,
    cast,
)

import httpx

from meterly._config import (
    DEFAULT_TIMEOUT_MS,
    ApiKey,
    SDKConfiguration,
    SecuritySource,
    fail_open_policy_of,
    retry_policy_with,
    timeout_from_ms,
)
from meterly._deadline import asend_within, send_within
from meterly._hooks import Awaiting, SDKHooks
from meterly._logging import configure_from_env
from meterly._operation import Operation
from meterly._pipeline import Effect, Pause, Pipeline, Retries
from meterly.balances import AsyncBalances, Balances
from meterly.errors import RequestValidationError
from meterly.types import UNSET, Unset
from meterly.usage import AsyncUsage, Usage
from meterly.utils.retries import RetryConfig

if TYPE_CHECKING:
    import asyncio

    import aiohttp

    from meterly._aiohttp import AiohttpSender
    from meterly._fail_open import FailOpenPolicy
    from meterly._instrument import Instrument
    from meterly.hooks import AsyncHook, Hook

T = TypeVar("T")
_Self = TypeVar("_Self", bound="_BaseClient")

__all__ = ["AsyncMeterly", "Meterly"]


_CLOSED_LOOP = (
    "the httpx.AsyncClient given to AsyncMeterly holds connections of an event loop that is now closed; "
    "an httpx client cannot move between event loops: create it (and the AsyncMeterly) inside the loop "
    "that uses it, or let AsyncMeterly create its own client (it opens a pool per event loop)"
)


def _owned_timeout() -> httpx.Timeout:
    return httpx.Timeout(DEFAULT_TIMEOUT_MS / 1000)


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


class _OwnedClient(_Cookieless, httpx.Client):
    """The `httpx.Client` a `Meterly` creates for itself; its sockets honour each attempt's deadline."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from meterly._deadline_io import bound_by_deadline

        bound_by_deadline(self)


class _OwnedAsyncClient(_Cookieless, httpx.AsyncClient):
    """The `httpx.AsyncClient` an `AsyncMeterly` creates for itself; its sockets honour each attempt's
    deadline."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from meterly._deadline_io import bound_by_deadline

        bound_by_deadline(self)


def _sleep(seconds: float) -> None:
    """`time.sleep`, cut short when the circuit breaker of a `Pause` opens."""
    if isinstance(seconds, Pause):
        seconds.circuit.sleep(seconds)
    else:
        time.sleep(seconds)


async def _asleep(seconds: float) -> None:
    """`asyncio.sleep`, cut short when the circuit breaker of a `Pause` opens."""
    if isinstance(seconds, Pause):
        await seconds.circuit.asleep(seconds)
    else:
        import asyncio

        await asyncio.sleep(seconds)


_LIVE_CLIENTS: weakref.WeakSet[_BaseClient] = weakref.WeakSet()


def _reset_clients_after_fork() -> None:
    for client in list(_LIVE_CLIENTS):
        client._after_fork_in_child()  # pyright: ignore[reportPrivateUsage]


# The at-fork hook is the function above with globals holding only what it uses. With this module's
# globals, the interpreter's list of fork hooks would keep this module (and all it imports) alive through
# shutdown's module cleanup, which then costs about 20 ms at every process exit.
_AFTER_FORK_IN_CHILD = FunctionType(
    _reset_clients_after_fork.__code__, {"_LIVE_CLIENTS": _LIVE_CLIENTS, "__builtins__": builtins}
)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_AFTER_FORK_IN_CHILD)


class _BaseClient:
    """The configuration and pipeline both clients share."""

    if TYPE_CHECKING:  # declared for type checkers only: `meterly._instrument` never loads at run time
        _instrument: Optional[Instrument]
    _instrument = None
    """Wraps each whole call when set (on a client, or on this class for every client); see
    `meterly._instrument`. None costs one attribute check per call."""

    def __init__(
        self,
        *,
        api_key: Optional[ApiKey],
        security: Optional[SecuritySource],
        server_url: Optional[str],
        server_idx: int,
        timeout_ms: Optional[int],
        retry_config: Union[RetryConfig, Unset, None],
        max_retries: Optional[int],
        debug_logger: Optional[logging.Logger],
        fail_open: Union[bool, FailOpenPolicy],
        hooks: Iterable[object],
        client: Any,
        client_type: type,
        server_urls: Optional[Mapping[str, str]] = None,
        api_versions: Optional[Mapping[str, str]] = None,
    ) -> None:
        if client is not None and not isinstance(client, client_type):
            raise RequestValidationError(
                "client", f"must be an {client_type.__module__}.{client_type.__name__}"
            )
        configure_from_env()
        self._config = SDKConfiguration.create(
            api_key=api_key,
            security=security,
            server_url=server_url,
            server_idx=server_idx,
            timeout_ms=timeout_ms,
            retry_config=retry_config,
            fail_open=fail_open,
            debug_logger=debug_logger,
            max_retries=max_retries,
            server_urls=server_urls,
            api_versions=api_versions,
        )
        self._pipeline = Pipeline(self._config, SDKHooks(hooks))
        self._owns_client = client is None
        self._closed = False
        self._parent: Optional[_BaseClient] = None
        self._lock = threading.Lock()
        _LIVE_CLIENTS.add(self)

    def with_options(
        self: _Self,
        *,
        timeout_ms: Optional[int] = None,
        retry_config: Union[RetryConfig, Unset, None] = UNSET,
        max_retries: Optional[int] = None,
        fail_open: Union[bool, FailOpenPolicy, None] = None,
    ) -> _Self:
        """A view of this client with some options changed; it shares this client's connection pool.

        Args:
            timeout_ms: The per-attempt timeout of the view's calls, in milliseconds.
            retry_config: The view's retry policy (`None`: never retry); UNSET keeps this client's.
            max_retries: At most this many retries per call, on the view's retry policy.
            fail_open: The view's fail-open setting (`True`, `False` or a `FailOpenPolicy`); None keeps
                this client's, and its circuit breakers.

        Closing the view (or leaving its `with` block) closes only the view: the pool stays open until
        this client is closed, and a view of a closed client raises like the closed client.
        """
        root = self if self._parent is None else self._parent
        config = self._config
        policy = config.retry_config if isinstance(retry_config, Unset) else retry_config
        if not isinstance(retry_config, Unset) or max_retries is not None:
            policy = retry_policy_with(policy, max_retries)
        if fail_open is None:
            fail_open = config.fail_open
            fail_open_policy = config.fail_open_policy
        else:
            fail_open_policy = fail_open_policy_of(fail_open)
        view = copy.copy(self)
        view._config = SDKConfiguration(
            server_url=config.server_url,
            retry_config=policy,
            timeout=config.timeout if timeout_ms is None else timeout_from_ms("timeout_ms", timeout_ms),
            fail_open=fail_open,
            debug_logger=config.debug_logger,
            api_key=config.api_key,
            security=config.security,
            fail_open_policy=fail_open_policy,
            server_urls=config.server_urls,
            api_versions=config.api_versions,
        )
        pipeline = self._pipeline
        view._pipeline = Pipeline(view._config, pipeline.hooks)
        view._pipeline.clock = pipeline.clock
        view._pipeline.random = pipeline.random
        if fail_open_policy is config.fail_open_policy:
            view._pipeline.fail_open = pipeline.fail_open  # the same circuit breakers
        view._parent = root
        view._owns_client = False
        view._closed = False
        view._lock = threading.Lock()
        for pool_state in ("_client", "_keeper", "_loop", "_sender"):  # a view never holds a pool
            if pool_state in vars(view):
                setattr(view, pool_state, None)
        view._bind_resources()
        _LIVE_CLIENTS.add(view)
        return view

    def _bind_resources(self) -> None:
        raise NotImplementedError

    def _after_fork_in_child(self) -> None:
        """Fresh locks in a forked child: a lock held by a parent thread at fork time is never released.

        An SDK-owned pool is forgotten too: its sockets are shared with the parent, so the child's next
        call opens a pool of its own (checked here once, not with a getpid() system call per call)."""
        self._lock = threading.Lock()
        if self._owns_client:
            self._forget_pool()
        if self._pipeline.fail_open is not None:
            self._pipeline.fail_open.after_fork_in_child()

    def _forget_pool(self) -> None:
        raise NotImplementedError

    @property
    def server_url(self) -> str:
        """The server calls go to unless a call names its own."""
        return self._config.server_url

    def __repr__(self) -> str:
        config = getattr(self, "_config", None)  # None when __init__ rejected an argument
        return f"{type(self).__name__}(server_url={config.server_url if config else None!r})"

    def _check_open(self) -> None:
        if self._closed or (self._parent is not None and self._parent._closed):
            raise RuntimeError(f"this {type(self).__name__} is closed; create a new one")


class Meterly(_BaseClient):
    """The synchronous client; safe to share across threads, and across `os.fork()`."""

    balances: Balances
    usage: Usage

    def __init__(
        self,
        *,
        api_key: Optional[ApiKey] = None,
        security: Optional[SecuritySource] = None,
        server_url: Optional[str] = None,
        server_idx: int = 0,
        timeout_ms: Optional[int] = None,
        retry_config: Union[RetryConfig, Unset, None] = UNSET,
        max_retries: Optional[int] = None,
        client: Optional[httpx.Client] = None,
        debug_logger: Optional[logging.Logger] = None,
        fail_open: Union[bool, FailOpenPolicy] = False,
        hooks: Iterable[Hook] = (),
        server_urls: Optional[Mapping[str, str]] = None,
        api_versions: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Create a client; it opens its connection pool at the first call.

        Args:
            api_key: The key for every operation, or a callable returning it (called once per call);
                None reads `METERLY_API_KEY`.
            security: Keys per security scheme (`models.Security`, or a callable returning one); a
                scheme it leaves unset falls back to `api_key`.
            server_url: The server calls go to; None reads `METERLY_SERVER_URL`, else `SERVERS[server_idx]`.
            server_idx: Which of `meterly.SERVERS` to use when no `server_url` is given.
            timeout_ms: The timeout of each attempt, in milliseconds (default 5 s for an SDK-owned pool).
            retry_config: The retry policy (`RetryConfig`); UNSET is the default policy, None never retries.
            max_retries: At most this many retries per call, on top of `retry_config`'s policy.
            client: An `httpx.Client` to send with; the SDK never closes a client it did not create.
            debug_logger: A logger that gets one DEBUG line per attempt, keys redacted.
            fail_open: `True` or a `FailOpenPolicy` to answer checks on their own during an outage.
            hooks: Objects whose `before_request`, `after_success` and `after_error` see every attempt.
            server_urls: A server per resource (`{"balances": ..., "usage": ...}`), for an app that uses
                both services; a resource left out uses `server_url`.
            api_versions: The API version each resource pins (`{"balances": "2.1", "usage": "2026-08-27"}`
                are the defaults): `x-api-version` for balances, `Commet-Version` for usage.
        """
        super().__init__(
            api_key=api_key,
            security=security,
            server_url=server_url,
            server_idx=server_idx,
            timeout_ms=timeout_ms,
            retry_config=retry_config,
            max_retries=max_retries,
            debug_logger=debug_logger,
            fail_open=fail_open,
            hooks=hooks,
            client=client,
            client_type=httpx.Client,
            server_urls=server_urls,
            api_versions=api_versions,
        )
        self._client: Optional[httpx.Client] = client
        self._sleep: Callable[[float], None] = _sleep
        self._bind_resources()

    def _bind_resources(self) -> None:
        self.balances = Balances(self)
        self.usage = Usage(self)

    def _http(self) -> httpx.Client:
        client = self._client
        if client is not None:
            return client
        if self._parent is not None:  # a view: its parent's pool, rebuilt by the parent when needed
            return cast(Meterly, self._parent)._http()
        with self._lock:
            self._check_open()
            if self._client is None:  # the first call, or the first in a forked child
                self._client = _OwnedClient(timeout=_owned_timeout())
            return self._client

    def _forget_pool(self) -> None:
        self._client = None

    def _request(
        self,
        op: Operation[T],
        args: Mapping[str, Any],
        idempotency_key: Optional[str],
        retries: Retries,
        server_url: Optional[str],
        timeout_ms: Optional[int],
        http_headers: Optional[Mapping[str, str]],
    ) -> T:
        if self._instrument is not None:
            run = functools.partial(
                self._drive, op, args, idempotency_key, retries, server_url, timeout_ms, http_headers
            )
            return self._instrument.call(self, op, args, run)
        return self._drive(op, args, idempotency_key, retries, server_url, timeout_ms, http_headers)

    def _drive(
        self,
        op: Operation[T],
        args: Mapping[str, Any],
        idempotency_key: Optional[str],
        retries: Retries,
        server_url: Optional[str],
        timeout_ms: Optional[int],
        http_headers: Optional[Mapping[str, str]],
    ) -> T:
        self._check_open()
        pipeline = self._pipeline
        call = pipeline.prepare(op, args, idempotency_key, retries, server_url, timeout_ms, http_headers)
        client = self._http()
        steps: Generator[Effect, Any, T] = pipeline.run(call, client)
        try:
            effect = next(steps)
            while True:
                if isinstance(effect, (int, float)):
                    self._sleep(effect)
                    effect = next(steps)
                    continue
                if isinstance(effect, Awaiting):
                    effect = steps.throw(effect.refuse())
                    continue
                try:
                    response = send_within(client, effect)  # type: ignore[arg-type]  # a client was given
                except httpx.RequestError as exc:
                    effect = steps.throw(exc)
                else:
                    effect = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def close(self) -> None:
        """Close the HTTP client the SDK created; an injected client is left open for its owner."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    def __enter__(self: _Self) -> _Self:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


HttpBackend = Literal["httpx", "aiohttp"]

_INHERITED_KEEPERS: List[AsyncGenerator[None, None]] = []
"""Keepers of pools a forked child inherited: kept, never finalized, as their loop is the parent's."""


async def _closed_with_its_loop(close: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    """An async generator that only waits to be finalized: the event loop it started in finalizes it when
    shutting down (`asyncio.run` does, through `loop.shutdown_asyncgens()`), and its `finally` then closes
    an SDK-owned pool on the loop its connections belong to."""
    try:
        yield
    finally:
        await close()


def _start(keeper: AsyncGenerator[None, None]) -> None:
    """Runs `keeper` to its `yield` without awaiting; the running loop now tracks it for shutdown."""
    with contextlib.suppress(StopIteration):  # StopIteration: it reached its `yield`
        keeper.asend(None).send(None)


class AsyncMeterly(_BaseClient):
    """The asyncio client; one instance may serve successive event loops.

    `http_backend="aiohttp"` (with `pip install meterly[aiohttp]`) sends over aiohttp instead of httpx,
    several times faster under concurrency; `client` is then an `aiohttp.ClientSession` or None. Hooks,
    errors, retries, timeouts and fail-open behave the same: hooks and errors still get httpx objects.
    """

    balances: AsyncBalances
    usage: AsyncUsage

    def __init__(
        self,
        *,
        api_key: Optional[ApiKey] = None,
        security: Optional[SecuritySource] = None,
        server_url: Optional[str] = None,
        server_idx: int = 0,
        timeout_ms: Optional[int] = None,
        retry_config: Union[RetryConfig, Unset, None] = UNSET,
        max_retries: Optional[int] = None,
        client: Union[httpx.AsyncClient, aiohttp.ClientSession, None] = None,
        debug_logger: Optional[logging.Logger] = None,
        fail_open: Union[bool, FailOpenPolicy] = False,
        hooks: Iterable[AsyncHook] = (),
        http_backend: HttpBackend = "httpx",
        server_urls: Optional[Mapping[str, str]] = None,
        api_versions: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Create a client; it opens a connection pool per event loop, at the loop's first call.

        Args:
            api_key: The key for every operation, or a callable returning it (called once per call);
                None reads `METERLY_API_KEY`.
            security: Keys per security scheme (`models.Security`, or a callable returning one); a
                scheme it leaves unset falls back to `api_key`.
            server_url: The server calls go to; None reads `METERLY_SERVER_URL`, else `SERVERS[server_idx]`.
            server_idx: Which of `meterly.SERVERS` to use when no `server_url` is given.
            timeout_ms: The timeout of each attempt, in milliseconds (default 5 s for an SDK-owned pool).
            retry_config: The retry policy (`RetryConfig`); UNSET is the default policy, None never retries.
            max_retries: At most this many retries per call, on top of `retry_config`'s policy.
            client: An `httpx.AsyncClient` (or with `http_backend="aiohttp"` an `aiohttp.ClientSession`)
                to send with; the SDK never closes a client it did not create.
            debug_logger: A logger that gets one DEBUG line per attempt, keys redacted.
            fail_open: `True` or a `FailOpenPolicy` to answer checks on their own during an outage.
            hooks: Objects whose `before_request`, `after_success` and `after_error` (plain or
                `async def`) see every attempt.
            http_backend: `"httpx"`, or `"aiohttp"` (`pip install 'meterly[aiohttp]'`) for more
                throughput under concurrency.
            server_urls: A server per resource (`{"balances": ..., "usage": ...}`), for an app that uses
                both services; a resource left out uses `server_url`.
            api_versions: The API version each resource pins (`{"balances": "2.1", "usage": "2026-08-27"}`
                are the defaults): `x-api-version` for balances, `Commet-Version` for usage.
        """
        if http_backend == "aiohttp":
            try:
                import aiohttp
            except ImportError:
                raise RequestValidationError(
                    "http_backend", "'aiohttp' needs the aiohttp package: pip install 'meterly[aiohttp]'"
                ) from None
            client_type: type = aiohttp.ClientSession
        elif http_backend == "httpx":
            client_type = httpx.AsyncClient
        else:
            raise RequestValidationError(
                "http_backend", f"must be 'httpx' or 'aiohttp', got {http_backend!r}"
            )
        super().__init__(
            api_key=api_key,
            security=security,
            server_url=server_url,
            server_idx=server_idx,
            timeout_ms=timeout_ms,
            retry_config=retry_config,
            max_retries=max_retries,
            debug_logger=debug_logger,
            fail_open=fail_open,
            hooks=hooks,
            client=client,
            client_type=client_type,
            server_urls=server_urls,
            api_versions=api_versions,
        )
        self._backend = http_backend
        self._client: Any = client
        self._sender: Optional[AiohttpSender] = None
        import asyncio  # here, not at module level: sync-only programs never import asyncio

        self._loop: Optional[weakref.ref[asyncio.AbstractEventLoop]] = None
        self._keeper: Optional[AsyncGenerator[None, None]] = None
        self._sleep: Callable[[float], Awaitable[None]] = _asleep
        self._running_loop = asyncio.get_running_loop
        self._bind_resources()

    def _bind_resources(self) -> None:
        self.balances = AsyncBalances(self)
        self.usage = AsyncUsage(self)

    def _http(self) -> Any:
        """The httpx.AsyncClient (or aiohttp.ClientSession) calls from the running loop use."""
        client = self._client
        if not self._owns_client:
            if self._parent is not None:  # a view: its parent's pool, rebuilt by the parent when needed
                return cast(AsyncMeterly, self._parent)._http()
            return client
        loop = self._running_loop()
        if client is not None and self._loop is not None and self._loop() is loop:
            return client
        with self._lock:
            self._check_open()
            # Connections belong to the loop that opened them (and to the parent after a fork):
            # a call from a new loop or process gets a pool of its own.
            if self._backend == "aiohttp":
                from meterly._aiohttp import new_session

                client = new_session(_owned_timeout())
                self._sender = None
                close = client.close
            else:
                client = _OwnedAsyncClient(timeout=_owned_timeout())
                close = client.aclose
            # Closed on its own loop when that loop shuts down (asyncio.run ends): an earlier pool's
            # keeper, dropped here, is finalized by its loop like any async generator.
            self._keeper = _closed_with_its_loop(close)
            _start(self._keeper)
            self._client = client
            self._loop = weakref.ref(loop)
            return client

    def _forget_pool(self) -> None:
        if self._keeper is not None:  # never finalized here: the parent's loop owns that pool
            _INHERITED_KEEPERS.append(self._keeper)
        self._client = None
        self._loop = None
        self._keeper = None

    def _aiohttp_sender(self, session: aiohttp.ClientSession) -> AiohttpSender:
        sender = self._sender
        if sender is None or sender.session is not session:
            from meterly._aiohttp import AiohttpSender

            sender = self._sender = AiohttpSender(session)
        return sender

    async def _request(
        self,
        op: Operation[T],
        args: Mapping[str, Any],
        idempotency_key: Optional[str],
        retries: Retries,
        server_url: Optional[str],
        timeout_ms: Optional[int],
        http_headers: Optional[Mapping[str, str]],
    ) -> T:
        if self._instrument is not None:
            run = functools.partial(
                self._drive, op, args, idempotency_key, retries, server_url, timeout_ms, http_headers
            )
            return await self._instrument.acall(self, op, args, run)
        return await self._drive(op, args, idempotency_key, retries, server_url, timeout_ms, http_headers)

    async def _drive(
        self,
        op: Operation[T],
        args: Mapping[str, Any],
        idempotency_key: Optional[str],
        retries: Retries,
        server_url: Optional[str],
        timeout_ms: Optional[int],
        http_headers: Optional[Mapping[str, str]],
    ) -> T:
        self._check_open()
        pipeline = self._pipeline
        call = pipeline.prepare(op, args, idempotency_key, retries, server_url, timeout_ms, http_headers)
        client = self._http()
        send: Callable[[Any], Awaitable[Any]]
        if self._backend == "aiohttp":
            send = self._aiohttp_sender(client).send
            client = None  # the pipeline then hands over prepared calls; the sender builds no httpx objects
        else:
            send = cast(Callable[[Any], Awaitable[Any]], functools.partial(asend_within, client))
        steps: Generator[Effect, Any, T] = pipeline.run(call, client)
        try:
            effect = next(steps)
            while True:
                if isinstance(effect, (int, float)):
                    await self._sleep(effect)
                    effect = next(steps)
                    continue
                if isinstance(effect, Awaiting):
                    effect = steps.send(await effect.awaitable)
                    continue
                try:
                    response = await send(effect)
                except httpx.RequestError as exc:
                    effect = steps.throw(exc)
                except RuntimeError as exc:
                    if self._owns_client or "Event loop is closed" not in str(exc):
                        raise
                    raise RuntimeError(_CLOSED_LOOP) from exc
                else:
                    effect = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    async def aclose(self) -> None:
        """Close the HTTP client the SDK created; an injected client is left open for its owner.

        A pool opened in an event loop that has since ended was closed when that loop shut down (by
        `asyncio.run`); its connections can't be used or closed from another loop, so it is let go.
        """
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            keeper, self._keeper = self._keeper, None
            loop = None if self._loop is None else self._loop()
        if client is None or not self._owns_client or loop is not self._running_loop():
            return
        if keeper is not None:
            await keeper.aclose()  # its `finally` closes the client
        else:
            await (client.close() if self._backend == "aiohttp" else client.aclose())

    async def __aenter__(self: _Self) -> _Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()
