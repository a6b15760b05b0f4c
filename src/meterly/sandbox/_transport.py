"""`SandboxTransport`: an httpx transport (sync and async) that answers from a `SandboxEngine`, no sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Dict, Optional

import httpx

from meterly.sandbox._engine import SandboxEngine
from meterly.sandbox._http import SandboxResponse


def _read_timeout(request: httpx.Request) -> Optional[float]:
    timeout: Dict[str, Optional[float]] = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return None if value is None else float(value)


def _to_httpx(request: httpx.Request, answer: SandboxResponse) -> httpx.Response:
    if answer.drop:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Plug into `httpx.Client(transport=...)` or `httpx.AsyncClient(transport=...)`; every request goes
    to `engine` (the demo engine if none is given). Faults behave as over a network: latency longer than
    the request's read timeout is an `httpx.ReadTimeout`, a dropped answer an `httpx.RemoteProtocolError`.
    """

    def __init__(self, engine: Optional[SandboxEngine] = None) -> None:
        self.engine = engine if engine is not None else SandboxEngine.demo()

    def _delay(self, request: httpx.Request) -> tuple[float, bool]:
        """How long to wait, and whether the wait ends in a timeout instead of an answer."""
        latency = self.engine.faults.latency_seconds
        limit = _read_timeout(request)
        if limit is not None and latency > limit:
            return limit, True
        return latency, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        delay, times_out = self._delay(request)
        if delay:
            time.sleep(delay)
        if times_out:
            raise httpx.ReadTimeout("the sandbox answered slower than the read timeout", request=request)
        answer = self.engine.handle(
            request.method, request.url.raw_path.decode("ascii"), request.headers, body
        )
        return _to_httpx(request, answer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        delay, times_out = self._delay(request)
        if delay:
            await asyncio.sleep(delay)
        if times_out:
            raise httpx.ReadTimeout("the sandbox answered slower than the read timeout", request=request)
        answer = self.engine.handle(
            request.method, request.url.raw_path.decode("ascii"), request.headers, body
        )
        return _to_httpx(request, answer)
