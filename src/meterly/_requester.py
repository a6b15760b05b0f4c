"""What a resource needs of its client, as a Protocol: resources sit below the clients and name them
only through these."""

from __future__ import annotations

from typing import Any, Awaitable, Mapping, TypeVar

from typing_extensions import Protocol

from meterly._declaration import Operation

T = TypeVar("T")


class Requester(Protocol):
    """A synchronous client: runs an operation with a resource method's arguments (its `locals()`)."""

    def _request(self, op: Operation[T], arguments: Mapping[str, Any]) -> T: ...


class AsyncRequester(Protocol):
    """An asyncio client: runs an operation with a resource method's arguments (its `locals()`)."""

    def _request(self, op: Operation[T], arguments: Mapping[str, Any]) -> Awaitable[T]: ...
