"""`Meterly` and `AsyncMeterly`: the public clients. Each drives the shared pipeline over a pool from
`meterly._pools`; the only difference between them is how a request is sent and how a wait is slept."""

from __future__ import annotations

import copy
import functools
import logging
import time
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Generator,
    Generic,
    Iterable,
    Mapping,
    Optional,
    Type,
    TypeVar,
    Union,
)

import httpx

from meterly._config import (
    ApiKey,
    SDKConfiguration,
    SecuritySource,
    fail_open_policy_of,
    retry_policy_with,
    timeout_from_ms,
)
from meterly._deadline import send_within
from meterly._declaration import Operation
from meterly._hooks import Awaiting, SDKHooks
from meterly._logging import configure_from_env
from meterly._options import options_of
from meterly._pipeline import Effect, Pause, Pipeline, httpx_request
from meterly._pools import AsyncPool, HttpBackend, SyncPool, reset_after_fork
from meterly._registry import resources
from meterly.balances import AsyncBalances, Balances
from meterly.errors import RequestValidationError
from meterly.types import UNSET, Unset
from meterly.usage import AsyncUsage, Usage
from meterly.utils.retries import RetryConfig

if TYPE_CHECKING:
    import aiohttp

    from meterly._fail_open import FailOpenPolicy
    from meterly._instrument import Instrument
    from meterly.hooks import AsyncHook, Hook

T = TypeVar("T")
_Self = TypeVar("_Self", bound="_BaseClient[Any]")
P = TypeVar("P", SyncPool, AsyncPool)

__all__ = ["AsyncMeterly", "HttpBackend", "Meterly"]


RESOURCE_NAMES = tuple(resources())
"""The clients' resources (`client.balances`, ...), by which `server_urls` and `api_versions` are keyed."""

_CLOSED_LOOP = (
    "the httpx.AsyncClient given to AsyncMeterly holds connections of an event loop that is now closed; "
    "an httpx client cannot move between event loops: create it (and the AsyncMeterly) inside the loop "
    "that uses it, or let AsyncMeterly create its own client (it opens a pool per event loop)"
)


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


class _BaseClient(Generic[P]):
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
            resources=RESOURCE_NAMES,
        )
        self._pipeline = Pipeline(self._config, SDKHooks(hooks))
        self._pool: P
        reset_after_fork(self)

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
        view._pool = self._pool.view()  # the root client's pool, closed on its own
        view._bind_resources()
        reset_after_fork(view)
        return view

    def _bind_resources(self) -> None:
        raise NotImplementedError

    def _after_fork_in_child(self) -> None:
        """Fresh state in a forked child: the pool's lock and SDK-owned pool, the fail-open state."""
        self._pool.after_fork_in_child()
        if self._pipeline.fail_open is not None:
            self._pipeline.fail_open.after_fork_in_child()

    @property
    def server_url(self) -> str:
        """The server calls go to unless a call names its own."""
        return self._config.server_url

    def __repr__(self) -> str:
        config = getattr(self, "_config", None)  # None when __init__ rejected an argument
        return f"{type(self).__name__}(server_url={config.server_url if config else None!r})"

    def _check_open(self) -> None:
        self._pool.check_open()


class Meterly(_BaseClient[SyncPool]):
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
            timeout_ms: The timeout of each attempt, in milliseconds (default 1 s for an SDK-owned pool).
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
        self._pool = SyncPool(client, type(self).__name__)
        self._sleep: Callable[[float], None] = _sleep
        self._bind_resources()

    def _bind_resources(self) -> None:
        self.balances = Balances(self)
        self.usage = Usage(self)

    def _http(self) -> httpx.Client:
        """The httpx.Client calls use."""
        return self._pool.get()

    def _request(self, op: Operation[T], arguments: Mapping[str, Any]) -> T:
        """Run `op` with a resource method's arguments (body parameters and call options, by name)."""
        if self._instrument is not None:
            return self._instrument.call(self, op, arguments, functools.partial(self._drive, op, arguments))
        return self._drive(op, arguments)

    def _drive(self, op: Operation[T], arguments: Mapping[str, Any]) -> T:
        pool = self._pool
        pool.check_open()
        pipeline = self._pipeline
        call = pipeline.prepare(op, arguments, options=options_of(arguments))
        client = pool.get()
        steps: Generator[Effect, Any, T] = pipeline.run(call, pool.build_request)
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
                request = effect if isinstance(effect, httpx.Request) else httpx_request(client, effect)
                try:
                    response = send_within(client, request)
                except httpx.RequestError as exc:
                    effect = steps.throw(exc)
                else:
                    effect = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def close(self) -> None:
        """Close the HTTP client the SDK created; an injected client is left open for its owner."""
        self._pool.close()

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


class AsyncMeterly(_BaseClient[AsyncPool]):
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
            timeout_ms: The timeout of each attempt, in milliseconds (default 1 s for an SDK-owned pool).
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
        self._pool = AsyncPool(client, type(self).__name__, http_backend)

        self._sleep: Callable[[float], Awaitable[None]] = _asleep
        self._bind_resources()

    def _bind_resources(self) -> None:
        self.balances = AsyncBalances(self)
        self.usage = AsyncUsage(self)

    def _http(self) -> Any:
        """The httpx.AsyncClient (or aiohttp.ClientSession) calls from the running loop use."""
        return self._pool.get()

    async def _request(self, op: Operation[T], arguments: Mapping[str, Any]) -> T:
        """Run `op` with a resource method's arguments (body parameters and call options, by name)."""
        if self._instrument is not None:
            run = functools.partial(self._drive, op, arguments)
            return await self._instrument.acall(self, op, arguments, run)
        return await self._drive(op, arguments)

    async def _drive(self, op: Operation[T], arguments: Mapping[str, Any]) -> T:
        pool = self._pool
        pool.check_open()
        pipeline = self._pipeline
        call = pipeline.prepare(op, arguments, options=options_of(arguments))
        sender = pool.sender()
        send = sender.send
        steps: Generator[Effect, Any, T] = pipeline.run(call, sender.build_request)
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
                    if pool.owned or "Event loop is closed" not in str(exc):
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
        await self._pool.aclose()

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
