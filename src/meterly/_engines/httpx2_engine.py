"""The httpx2 engine (`pip install 'meterly[httpx2]'`, Python 3.11+): Pydantic's fork of httpx, over the
SDK's own `httpx2.Client`/`AsyncClient` or an injected one.

httpx2 has httpx's API under another name, so this engine translates at the seam: a `Call` (or a hook's
`httpx.Request`) becomes an `httpx2.Request`, the answer comes back as a `Decoded` response, and an
httpx2 exception as the httpx exception of the same name. Each socket operation is cut to the attempt's
deadline (`httpx2_compat`, the one place with private attributes), the attempt's timeouts are cut to
the call's deadline and, for an injected client, to the SDK's, and the body is read within the
attempt's deadline or not at all.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple, Union

import httpx
import httpx2

from meterly._engines.deadline import ATTEMPT_DEADLINE, adiscard_connection, discard_connection
from meterly._engines.httpx2_compat import bound_by_deadline
from meterly._engines.seam import ClosedWhileSending, Decoded, capped, cut_seconds, owned_timeout
from meterly._redaction import forget_locals
from meterly._wire import TIME_LEFT, Call, Received

__all__ = ["AsyncHttpx2Sender", "Httpx2Sender", "new_async_client", "new_client"]


def new_client(timeout: httpx.Timeout) -> httpx2.Client:
    """The SDK's own sync httpx2 client."""
    return httpx2.Client(timeout=httpx2.Timeout(**timeout.as_dict()))


def new_async_client(timeout: httpx.Timeout) -> httpx2.AsyncClient:
    """The SDK's own async httpx2 client (one per event loop)."""
    return httpx2.AsyncClient(timeout=httpx2.Timeout(**timeout.as_dict()))


def _httpx_error(exc: BaseException, request: Optional[httpx.Request]) -> httpx.RequestError:
    """The httpx exception of the same name as an httpx2 one (the pipeline maps httpx's)."""
    cls: Any = httpx.TransportError
    for base in type(exc).__mro__:
        candidate = getattr(httpx, base.__name__, None)
        if isinstance(candidate, type) and issubclass(candidate, httpx.RequestError):
            cls = candidate
            break
    message = str(exc) or type(exc).__name__
    error: httpx.RequestError = cls(message, request=request) if request is not None else cls(message)
    return error


class _Base:
    __slots__ = ("_closing", "_default", "client", "owned")

    def __init__(self, client: Any, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self._closing = False
        bound_by_deadline(client)
        own = client.timeout
        values = {"connect": own.connect, "read": own.read, "write": own.write, "pool": own.pool}
        self._default: Dict[str, Optional[float]] = (
            values if owned else {name: capped(value) for name, value in values.items()}
        )

    def build_request(self, call: Call) -> httpx.Request:
        return call.to_request()

    def _request(self, effect: Union[Call, httpx.Request]) -> Tuple[Any, float, Optional[httpx.Request]]:
        """The httpx2 request for `effect`, its whole-attempt budget, and the httpx request if any."""
        if isinstance(effect, Call):
            timeout = effect.timeout
            values = timeout.as_dict() if isinstance(timeout, httpx.Timeout) else self._default
            values = cut_seconds(values, effect.time_left)
            request = self.client.build_request(
                effect.op.method,
                str(effect.url),
                content=effect.body,
                headers=effect.headers,
                timeout=httpx2.Timeout(**values),
            )
            original = None
        else:
            values = effect.extensions.get("timeout") or self._default
            values = cut_seconds(values, effect.extensions.get(TIME_LEFT))
            request = self.client.build_request(
                effect.method,
                str(effect.url),
                content=effect.read(),
                headers=effect.headers.multi_items(),
                timeout=httpx2.Timeout(**values),
            )
            original = effect
        set_values = [value for value in values.values() if value is not None]
        budget = max(set_values) if set_values else float("inf")
        return request, budget, original

    def _failed(self, exc: BaseException, original: Optional[httpx.Request]) -> BaseException:
        forget_locals(exc)
        if self._closing:
            return ClosedWhileSending(
                "the client was closed while this request was being sent", request=original
            )
        if isinstance(exc, httpx.RequestError):
            return exc
        return _httpx_error(exc, original)


def _expired(budget: float, original: Optional[httpx.Request]) -> httpx.ReadTimeout:
    message = f"the response did not arrive within the attempt's {budget:g} s"
    return (
        httpx.ReadTimeout(message, request=original) if original is not None else httpx.ReadTimeout(message)
    )


class Httpx2Sender(_Base):
    """The `Sender` over an `httpx2.Client`."""

    __slots__ = ()

    def send(self, effect: Union[Call, httpx.Request]) -> Decoded:
        request, budget, original = self._request(effect)
        deadline = time.monotonic() + budget
        token = ATTEMPT_DEADLINE.set(deadline if budget != float("inf") else None)
        try:
            response = self.client.send(request, stream=True, follow_redirects=False)
            try:
                chunks: List[bytes] = []
                for chunk in response.iter_bytes():
                    if time.monotonic() > deadline:
                        raise _expired(budget, original)
                    chunks.append(chunk)
            finally:
                response.close()
        except (httpx2.TransportError, httpx.TransportError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._closing:
                raise
            raise self._failed(exc, original) from exc
        finally:
            ATTEMPT_DEADLINE.reset(token)
        return Decoded(
            response.status_code,
            b"".join(chunks),
            response.headers.multi_items(),
            effect,
            response.extensions,
        )

    def discard(self, response: Union[httpx.Response, Received]) -> None:
        discard_connection(response)

    def close(self) -> None:
        self._closing = True
        if self.owned:
            self.client.close()


class AsyncHttpx2Sender(_Base):
    """The `AsyncSender` over an `httpx2.AsyncClient`."""

    __slots__ = ()

    async def send(self, effect: Union[Call, httpx.Request]) -> Decoded:
        request, budget, original = self._request(effect)
        deadline = time.monotonic() + budget
        token = ATTEMPT_DEADLINE.set(deadline if budget != float("inf") else None)
        try:
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                chunks: List[bytes] = []
                async for chunk in response.aiter_bytes():
                    if time.monotonic() > deadline:
                        raise _expired(budget, original)
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except (httpx2.TransportError, httpx.TransportError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and not self._closing:
                raise
            raise self._failed(exc, original) from exc
        finally:
            ATTEMPT_DEADLINE.reset(token)
        return Decoded(
            response.status_code,
            b"".join(chunks),
            response.headers.multi_items(),
            effect,
            response.extensions,
        )

    async def discard(self, response: Union[httpx.Response, Received]) -> None:
        await adiscard_connection(response)

    async def aclose(self) -> None:
        self._closing = True
        if self.owned:
            await self.client.aclose()


def sync_sender(client: Optional[httpx2.Client], tls: bool = True) -> Httpx2Sender:
    """The sender over `client`, or over a client of the SDK's own (None)."""
    if client is None:
        return Httpx2Sender(new_client(owned_timeout()), True)
    return Httpx2Sender(client, False)


def async_sender(client: Optional[httpx2.AsyncClient], tls: bool = True) -> AsyncHttpx2Sender:
    """The sender over `client`, or over a client of the SDK's own for the running loop (None)."""
    if client is None:
        return AsyncHttpx2Sender(new_async_client(owned_timeout()), True)
    return AsyncHttpx2Sender(client, False)
