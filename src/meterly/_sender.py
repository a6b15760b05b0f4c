"""The seam between `AsyncMeterly`'s driver and the backend that sends: `AsyncSender`.

A sender turns a prepared `Call` (or an `httpx.Request` a hook made) into a response. The pipeline never
sees it; only the async driver does. httpx's sender is below; aiohttp's is `meterly._aiohttp`.
"""

from __future__ import annotations

from typing import Any, Union

import httpx
from typing_extensions import Protocol

from meterly._deadline import adiscard_connection, asend_within
from meterly._wire import Call, Received, httpx_request


class AsyncSender(Protocol):
    """Sends one attempt over one pool; transport failures are raised as `httpx.RequestError`."""

    @property
    def client(self) -> Any:
        """The pool it sends over (an `httpx.AsyncClient` or an `aiohttp.ClientSession`)."""
        ...

    def build_request(self, call: Call) -> httpx.Request:
        """The `httpx.Request` hooks and the debug log see for `call`."""
        ...

    async def send(self, effect: Union[Call, httpx.Request]) -> Union[httpx.Response, Received]:
        """Send one attempt and read its whole response."""
        ...

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        """Close the connection that carried `response` (it answered another request)."""
        ...


class HttpxSender:
    """Sends over an `httpx.AsyncClient`, the body read within the attempt's deadline."""

    __slots__ = ("client",)

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def build_request(self, call: Call) -> httpx.Request:
        return httpx_request(self.client, call)

    async def send(self, effect: Union[Call, httpx.Request]) -> httpx.Response:
        request = effect if isinstance(effect, httpx.Request) else httpx_request(self.client, effect)
        return await asend_within(self.client, request)

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        if isinstance(response, httpx.Response):
            await adiscard_connection(response)
