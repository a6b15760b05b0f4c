"""The HTTP pools behind the clients: the caller's, or cookie-less ones the SDK creates at first use; on
asyncio one per event loop, closed as that loop shuts down; and the fork hook after which a forked
child opens pools of its own."""

from __future__ import annotations

import builtins
import contextlib
import os
import threading
import weakref
from types import FunctionType
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, List, Optional, cast

import httpx

from meterly._engines.seam import AsyncSender, HttpBackend, Sender, engine_module
from meterly._wire import Call

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncPool", "SyncPool", "reset_after_fork"]


# -- fork ----------------------------------------------------------------------------------------------

_LIVE_CLIENTS: weakref.WeakSet[Any] = weakref.WeakSet()
"""Every live object with an `_after_fork_in_child()` to run in a forked child (the SDK clients)."""


def _reset_clients_after_fork() -> None:
    for client in list(_LIVE_CLIENTS):
        client._after_fork_in_child()


# The at-fork hook is the function above with globals holding only what it uses. With this module's
# globals, the interpreter's list of fork hooks would keep this module (and all it imports) alive through
# shutdown's module cleanup, which then costs about 20 ms at every process exit.
_AFTER_FORK_IN_CHILD = FunctionType(
    _reset_clients_after_fork.__code__, {"_LIVE_CLIENTS": _LIVE_CLIENTS, "__builtins__": builtins}
)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_AFTER_FORK_IN_CHILD)


def reset_after_fork(client: Any) -> None:
    """Run `client._after_fork_in_child()` in every forked child while `client` lives."""
    _LIVE_CLIENTS.add(client)


# -- the pools -----------------------------------------------------------------------------------------


class _Pool:
    """What both pools share: the engine, the lock that guards them and the closed state of their client.

    A pool with a `parent` is a `with_options` view's: it sends over its parent's pool and closes on its
    own, leaving the parent's open.
    """

    def __init__(
        self, client: Any, owner: str, backend: HttpBackend, parent: Any = None, tls: bool = True
    ) -> None:
        self.client: Any = client
        self.tls = tls
        """False when every configured server is `http://`: the SDK's own pool builds no TLS context
        unless an https connection is made."""
        self.parent = parent
        self.backend: HttpBackend = backend
        self.owned = client is None and parent is None
        """True when the SDK creates (and so closes) the pool; a caller's client is never closed."""
        self.closed = False
        self.lock = threading.Lock()
        self._owner = owner

    def is_closed(self) -> bool:
        """True once this pool, or the pool it views, was closed."""
        return self.closed or (self.parent is not None and self.parent.is_closed())

    def check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"this {self._owner} is closed; create a new one")
        if self.parent is not None:
            self.parent.check_open()

    def after_fork_in_child(self) -> None:
        """A fresh lock (one a parent thread held at fork time is never released) and, for an SDK-owned
        pool, no pool: its sockets are shared with the parent, so the child's next call opens its own
        (checked here once, not with a getpid() system call per call)."""
        self.lock = threading.Lock()
        if self.owned:
            self.forget()

    def forget(self) -> None:
        raise NotImplementedError


class SyncPool(_Pool):
    """The sender (and HTTP client) of a `Meterly`."""

    def __init__(
        self, client: Any, owner: str, backend: HttpBackend, parent: Any = None, tls: bool = True
    ) -> None:
        super().__init__(client, owner, backend, parent, tls)
        self._sender: Optional[Sender] = None
        if client is not None:
            self._sender = engine_module(backend, "client").sync_sender(client)

    def view(self) -> SyncPool:
        """The pool of a view of this client: this pool (or the one it views), closed on its own."""
        return SyncPool(None, self._owner, self.backend, self.parent or self)

    def sender(self) -> Sender:
        sender = self._sender
        if sender is not None:
            return sender
        if self.parent is not None:  # a view: its parent's pool, rebuilt by the parent when needed
            parent: SyncPool = self.parent
            return parent.sender()
        with self.lock:
            self.check_open()
            if self._sender is None:  # the first call, or the first in a forked child
                self._sender = cast(Sender, engine_module(self.backend).sync_sender(None, self.tls))
            return self._sender

    def get(self) -> Any:
        """The HTTP client calls use."""
        return self.sender().client

    def build_request(self, call: Call) -> httpx.Request:
        """`call` as a request of this pool's client, for the hooks and the debug log."""
        return self.sender().build_request(call)

    def forget(self) -> None:
        self._sender = None

    def close(self) -> None:
        """Closes the SDK's own pool; sends still running on it raise `ClosedWhileSending`."""
        with self.lock:
            self.closed = True
            sender = None if self.parent is not None else self._sender
            if self.owned:
                self._sender = None
        if sender is not None:
            sender.close()


_INHERITED_KEEPERS: List[AsyncGenerator[None, None]] = []
"""Keepers of pools a forked child inherited: kept, never finalized, as their loop is the parent's."""


async def _closed_with_its_loop(sender: AsyncSender) -> AsyncGenerator[None, None]:
    """An async generator that only waits to be finalized: the event loop it started in finalizes it when
    shutting down (`asyncio.run` does, through `loop.shutdown_asyncgens()`), and its `finally` then closes
    an SDK-owned pool on the loop its connections belong to."""
    try:
        yield
    finally:
        await sender.aclose()


def _start(keeper: AsyncGenerator[None, None]) -> None:
    """Runs `keeper` to its `yield` without awaiting; the running loop now tracks it for shutdown."""
    with contextlib.suppress(StopIteration):  # StopIteration: it reached its `yield`
        keeper.asend(None).send(None)


class AsyncPool(_Pool):
    """The sender (and HTTP client) of an `AsyncMeterly`.

    Connections belong to the loop that opened them (and to the parent after a fork): an SDK-owned pool
    is opened per event loop and closed on that loop as it shuts down.
    """

    def __init__(
        self, client: Any, owner: str, backend: HttpBackend, parent: Any = None, tls: bool = True
    ) -> None:
        super().__init__(client, owner, backend, parent, tls)
        self._sender: Optional[AsyncSender] = None
        if client is not None:
            self._sender = engine_module(backend, "client").async_sender(client)
        import asyncio  # here, not at module level: sync-only programs never import asyncio

        self._loop: Optional[weakref.ref[asyncio.AbstractEventLoop]] = None
        self._keeper: Optional[AsyncGenerator[None, None]] = None
        self._running_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.get_running_loop

    def view(self) -> AsyncPool:
        """The pool of a view of this client: this pool (or the one it views), closed on its own."""
        return AsyncPool(None, self._owner, self.backend, self.parent or self)

    def sender(self) -> AsyncSender:
        """The sender over the running loop's pool."""
        if not self.owned:
            if self.parent is not None:  # a view: its parent's pool, rebuilt by the parent when needed
                parent: AsyncPool = self.parent
                return parent.sender()
            injected = self._sender
            assert injected is not None
            return injected
        sender = self._sender
        loop = self._running_loop()
        if sender is not None and self._loop is not None and self._loop() is loop:
            return sender
        with self.lock:
            self.check_open()
            sender = cast(AsyncSender, engine_module(self.backend).async_sender(None, self.tls))
            # Closed on its own loop when that loop shuts down (asyncio.run ends): an earlier pool's
            # keeper, dropped here, is finalized by its loop like any async generator.
            self._keeper = _closed_with_its_loop(sender)
            _start(self._keeper)
            self._sender = sender
            self.client = sender.client
            self._loop = weakref.ref(loop)
            return sender

    def get(self) -> Any:
        """The HTTP client calls from the running loop use."""
        return self.sender().client

    def forget(self) -> None:
        if self._keeper is not None:  # never finalized here: the parent's loop owns that pool
            _INHERITED_KEEPERS.append(self._keeper)
        self.client = None
        self._sender = None
        self._loop = None
        self._keeper = None

    async def aclose(self) -> None:
        """Close the pool the SDK created, when it belongs to the running loop.

        A pool opened in an event loop that has since ended was closed when that loop shut down (by
        `asyncio.run`); its connections can't be used or closed from another loop, so it is let go.
        """
        with self.lock:
            self.closed = True
            if not self.owned:
                return
            sender, self._sender = self._sender, None
            self.client = None
            keeper, self._keeper = self._keeper, None
            loop = None if self._loop is None else self._loop()
        if sender is None or loop is not self._running_loop():
            return
        if keeper is not None:
            await keeper.aclose()  # its `finally` closes the sender's client
        else:
            await sender.aclose()
