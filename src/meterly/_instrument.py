"""The seam that observability integrations use: an object wrapping each whole SDK call.

A client calls `call` (or `acall` for `AsyncMeterly`) instead of running the call itself when its
`_instrument` is set, on the client or on the client class for every client. The object gets the
operation declaration and the call's arguments, and `run`, which performs the whole call (every attempt,
retry wait and fail-open fallback) and returns its result or raises its error. Per-attempt facts come
from hooks, which the instrument may add to the client. Nothing here is imported unless type-checking:
`meterly.integrations.otel` is the implementation.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, Protocol, TypeVar

from meterly._declaration import Operation

T = TypeVar("T")


class Instrument(Protocol):
    """Observes every call of the clients it is set on."""

    def call(self, client: Any, op: Operation[T], args: Mapping[str, Any], run: Callable[[], T]) -> T:
        """Runs one synchronous call (`run()`), observing it."""
        ...

    async def acall(
        self, client: Any, op: Operation[T], args: Mapping[str, Any], run: Callable[[], Awaitable[T]]
    ) -> T:
        """Runs one asyncio call (`await run()`), observing it."""
        ...
