"""`Meterly` and `AsyncMeterly`: the public clients. Each drives the shared pipeline over a pool from
`meterly._pools`; the only difference between them is how a request is sent and how a wait is slept."""

from __future__ import annotations

import copy
import functools
import time
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Dict,
    Generator,
    Generic,
    Mapping,
    Optional,
    Type,
    TypeVar,
)

import httpx

from meterly._attempts import UNSETTLED, Effect, Pause
from meterly._config import (
    SDKConfiguration,
    fail_open_policy_of,
    retry_policy_with,
    timeout_from_ms,
)
from meterly._constructors import AsyncMeterlyOptions, MeterlyOptions
from meterly._declaration import Operation
from meterly._engines.seam import ENGINES, HttpBackend, engine_module, engine_of_client
from meterly._hooks import Awaiting, SDKHooks
from meterly._logging import configure_from_env
from meterly._options import options_of
from meterly._pipeline import Pipeline
from meterly._pools import AsyncPool, SyncPool, reset_after_fork
from meterly._redaction import forget_locals
from meterly._registry import resources
from meterly._wire import ClosedBeforeSending, ClosedWhileSending, Discard
from meterly.errors import RequestValidationError, shown
from meterly.types import Unset

if TYPE_CHECKING:
    from meterly._instrument import Instrument
    from meterly.outbox import AsyncClientOutbox, ClientOutbox

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


class _Sent:
    """The outcome of a call's first attempt, sent by a driver before it started the attempt loop
    (`AttemptLoop.plain`); `replay` hands it to the loop in place of sending that attempt again."""

    __slots__ = ("error", "response")

    def __init__(self, response: Any, error: Optional[Exception]) -> None:
        self.response = response
        self.error = error

    def replay(self, effect: Effect) -> Any:
        """The response, or the error raised again; `effect` is what the loop asked to send, which for a
        plain call's first attempt is always the call itself (so it was sent)."""
        assert not isinstance(effect, (int, float, Awaiting, Discard))
        if self.error is not None:
            raise self.error
        return self.response


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

    def _setup(self, arguments: Mapping[str, Any]) -> None:
        """Checks and keeps a constructor's arguments (by name; see `meterly._constructors`)."""
        configure_from_env()
        self._config = SDKConfiguration.create(arguments, RESOURCE_NAMES)
        self._pipeline = Pipeline(self._config, SDKHooks(arguments["hooks"]))
        self._pool: P
        reset_after_fork(self)

    def _view(self: _Self, arguments: Mapping[str, Any]) -> _Self:
        """`with_options` (declared in `meterly._client_options`): a copy sharing this client's pool."""
        timeout_ms = arguments["timeout_ms"]
        retry_config = arguments["retry_config"]
        max_retries = arguments["max_retries"]
        fail_open = arguments["fail_open"]
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
        view._config = config.replace(
            retry_config=policy,
            timeout=config.timeout if timeout_ms is None else timeout_from_ms("timeout_ms", timeout_ms),
            fail_open=fail_open,
            fail_open_policy=fail_open_policy,
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

    if TYPE_CHECKING:  # written by `make gen` in meterly._constructors, from the registry

        def _bind_resources(self) -> None: ...

    def _no_outbox(self) -> RequestValidationError:
        return RequestValidationError(
            "outbox", f"this {type(self).__name__} has none: create it with outbox=True or a meterly.Outbox"
        )

    def _closes_outbox(self) -> bool:
        """Whether `close` closes the outbox: the root client's does, a `with_options` view's does not."""
        return self._pool.parent is None

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

    def _needs_tls(self) -> bool:
        """Whether a configured server is `https://` (else the SDK's own pool defers its TLS context)."""
        config: SDKConfiguration = self._config
        urls = [config.server_url, *config.server_urls.values()]
        return any(not url.startswith("http://") for url in urls)

    @staticmethod
    def _warm_models() -> None:
        """Loads every operation's models and compiles their validators, as first calls would."""
        from meterly._registry import OPERATIONS

        for op in OPERATIONS:
            op.warm()


def _engine_for(arguments: Mapping[str, Any], is_async: bool) -> HttpBackend:
    """The engine that sends for a client built with `arguments`: the injected client's, else
    `http_backend`'s. Both clients choose it the same way; only the kinds of client differ."""
    client = arguments["client"]
    backend = arguments["http_backend"]
    names = [name for name, (_, _, sync) in ENGINES.items() if is_async or sync]
    if not isinstance(backend, str) or backend not in names:
        choices = ", ".join(repr(name) for name in names)
        raise RequestValidationError("http_backend", f"must be one of {choices}, got {shown(backend)}")
    if client is None:
        if backend == "pyreqwest":
            # Imported in the thread that builds the client, not at the first call: pyreqwest 0.15
            # crashes the process (SIGSEGV) when the thread that first imported it and sent on it has
            # exited and another thread builds a client, as a pool's worker threads do
            # (tests/engines/test_pyreqwest_exit.py). A missing extra is then reported here too.
            engine_module(backend)
        return backend  # type: ignore[return-value]
    engine = engine_of_client(client)
    kinds = (
        "an httpx.AsyncClient, an httpx2.AsyncClient or an aiohttp.ClientSession"
        if is_async
        else "an httpx.Client or an httpx2.Client"
    )
    if engine is None or engine not in names:
        raise RequestValidationError("client", f"must be {kinds}, got {type(client).__name__}")
    expected = _CLIENT_CLASSES[engine][is_async]
    if not any(
        cls.__name__ == expected and cls.__module__.partition(".")[0] == engine
        for cls in type(client).__mro__
    ):
        raise RequestValidationError("client", f"must be {kinds}, got {type(client).__name__}")
    if backend not in ("httpx", engine):  # the default gives way to the client; a chosen engine does not
        raise RequestValidationError(
            "client", f"is an {engine} client, but http_backend={backend!r} was asked for: pass one only"
        )
    return engine  # type: ignore[return-value]


_CLIENT_CLASSES = {
    "httpx": ("Client", "AsyncClient"),
    "httpx2": ("Client", "AsyncClient"),
    "aiohttp": ("", "ClientSession"),
}
"""The class name of an injected client each engine takes, (sync, async); "": none."""


class Meterly(_BaseClient[SyncPool], MeterlyOptions):
    """The synchronous client; safe to share across threads, and across `os.fork()`."""

    def _configure(self, arguments: Dict[str, Any]) -> None:
        """The work of `__init__` (whose signature `meterly._client_options` declares)."""
        backend = _engine_for(arguments, is_async=False)
        self._setup(arguments)
        self._pool = SyncPool(arguments["client"], type(self).__name__, backend, tls=self._needs_tls())
        self._sleep: Callable[[float], None] = _sleep
        self._bind_resources()
        self._outbox: Optional[ClientOutbox] = None
        if arguments["outbox"] is not None and arguments["outbox"] is not False:
            from meterly.outbox import ClientOutbox  # loads sqlite3: only when asked for

            self._outbox = ClientOutbox(self, arguments["outbox"])

    @property
    def outbox(self) -> ClientOutbox:
        """The usage outbox (`outbox=` at construction): `client.outbox.usage.track(...)` queues at once."""
        if self._outbox is None:
            raise self._no_outbox()
        return self._outbox

    def _http(self) -> Any:
        """The HTTP client calls use (an `httpx.Client` unless another engine was chosen)."""
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
        started = pipeline.clock()  # setup (compiling models, opening the pool) counts too
        try:
            call = pipeline.prepare(op, arguments, options=options_of(arguments))
        except RequestValidationError as exc:
            forget_locals(exc)  # `prepare` may have fetched the key before it found the bad argument
            raise
        call.started = started
        sender = pool.sender()
        send = sender.send
        first: Optional[_Sent] = None  # the first attempt, when sent before the loop started
        if pipeline.plain(call) and not pool.is_closed():
            try:
                response = send(call)
            except Exception as exc:
                first = _Sent(None, exc)
            else:
                settled: T = pipeline.settle(call, response)
                if settled is not UNSETTLED:
                    return settled
                first = _Sent(response, None)
        steps: Generator[Effect, Any, T] = pipeline.run(call, sender.build_request)
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
                if isinstance(effect, Discard):
                    sender.discard(effect.response)
                    effect = next(steps)
                    continue
                if first is None and pool.is_closed():
                    effect = steps.throw(ClosedBeforeSending("the client was closed"))
                    continue
                try:
                    if first is None:
                        response = send(effect)
                    else:
                        sent, first = first, None
                        response = sent.replay(effect)
                except Exception as exc:
                    if pool.is_closed():  # closed by another thread while this attempt was out
                        effect = steps.throw(ClosedWhileSending("the client was closed while sending"))
                    elif isinstance(exc, httpx.RequestError):
                        effect = steps.throw(exc)
                    else:
                        raise
                else:
                    effect = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def warm(self) -> None:
        """Do now what the first call would do: load and compile the models, open the connection pool
        (no connection is made). For gunicorn's `post_fork`, or before a worker takes traffic; see
        README "The first call"."""
        self._pool.check_open()
        self._warm_models()
        self._pool.sender()

    def close(self) -> None:
        """Close the HTTP client the SDK created; an injected client is left open for its owner.

        The outbox's `close()` runs first: it delivers for at most `close_timeout_ms`. A `with_options`
        view closes neither.
        """
        try:
            if self._outbox is not None and self._closes_outbox():
                self._outbox.close()
        finally:
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


class AsyncMeterly(_BaseClient[AsyncPool], AsyncMeterlyOptions):
    """The asyncio client; one instance may serve successive event loops.

    `http_backend="aiohttp"` or `"pyreqwest"` (with `pip install meterly[aiohttp]` or
    `meterly[pyreqwest]`) send several times faster under concurrency than httpx. Hooks, errors,
    retries, timeouts and fail-open behave the same on every engine: hooks and errors get httpx objects.
    """

    def _configure(self, arguments: Dict[str, Any]) -> None:
        """The work of `__init__` (whose signature `meterly._client_options` declares)."""
        backend = _engine_for(arguments, is_async=True)
        self._setup(arguments)
        self._pool = AsyncPool(arguments["client"], type(self).__name__, backend, tls=self._needs_tls())

        self._sleep: Callable[[float], Awaitable[None]] = _asleep
        self._bind_resources()
        self._outbox: Optional[AsyncClientOutbox] = None
        if arguments["outbox"] is not None and arguments["outbox"] is not False:
            from meterly.outbox import AsyncClientOutbox  # loads sqlite3: only when asked for

            self._outbox = AsyncClientOutbox(self, arguments["outbox"])

    @property
    def outbox(self) -> AsyncClientOutbox:
        """The usage outbox (`outbox=` at construction): `client.outbox.usage.track(...)` queues at once,
        without awaiting; `await client.outbox.flush()` delivers what waits."""
        if self._outbox is None:
            raise self._no_outbox()
        return self._outbox

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
        started = pipeline.clock()  # setup (compiling models, opening the pool) counts too
        try:
            call = pipeline.prepare(op, arguments, options=options_of(arguments))
        except RequestValidationError as exc:
            forget_locals(exc)  # `prepare` may have fetched the key before it found the bad argument
            raise
        call.started = started
        sender = pool.sender()
        send = sender.send
        first: Optional[_Sent] = None  # the first attempt, when sent before the loop started
        if pipeline.plain(call) and not pool.is_closed():
            try:
                response = await send(call)
            except Exception as exc:
                first = _Sent(None, exc)
            else:
                settled: T = pipeline.settle(call, response)
                if settled is not UNSETTLED:
                    return settled
                first = _Sent(response, None)
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
                if isinstance(effect, Discard):
                    await sender.discard(effect.response)
                    effect = next(steps)
                    continue
                if first is None and pool.is_closed():
                    effect = steps.throw(ClosedBeforeSending("the client was closed"))
                    continue
                try:
                    if first is None:
                        response = await send(effect)
                    else:
                        sent, first = first, None
                        response = sent.replay(effect)
                except Exception as exc:
                    if pool.is_closed():  # closed by another task while this attempt was out
                        effect = steps.throw(ClosedWhileSending("the client was closed while sending"))
                    elif isinstance(exc, httpx.RequestError):
                        effect = steps.throw(exc)
                    elif (
                        isinstance(exc, RuntimeError)
                        and not pool.owned
                        and "Event loop is closed" in str(exc)
                    ):
                        raise RuntimeError(_CLOSED_LOOP) from exc
                    else:
                        raise
                else:
                    effect = steps.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    async def warm(self) -> None:
        """Do now what the first call would do: load and compile the models, open the running loop's
        connection pool (no connection is made). For FastAPI's lifespan; see README "The first call"."""
        self._pool.check_open()
        self._warm_models()
        self._pool.sender()

    async def aclose(self) -> None:
        """Close the HTTP client the SDK created; an injected client is left open for its owner.

        A pool opened in an event loop that has since ended was closed when that loop shut down (by
        `asyncio.run`); its connections can't be used or closed from another loop, so it is let go.
        The outbox's `aclose()` runs first (it delivers for at most `close_timeout_ms`); a `with_options`
        view closes neither.
        """
        try:
            if self._outbox is not None and self._closes_outbox():
                await self._outbox.aclose()
        finally:
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
