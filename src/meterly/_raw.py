"""`with_raw_response`: the HTTP response of a call, with its result parsed only when asked for."""

from __future__ import annotations

import datetime
import functools
from contextvars import ContextVar
from typing import Awaitable, Callable, Generic, Optional, TypeVar

import httpx
from typing_extensions import ParamSpec

from meterly._redaction import hide_credentials
from meterly._responses import parse_success
from meterly.errors import ResponseValidationError

T = TypeVar("T")
P = ParamSpec("P")

raw_mode: ContextVar[bool] = ContextVar("meterly_raw_mode", default=False)
"""Set while a `with_raw_response` call runs; the pipeline then returns a RawResponse."""

_NOT_PARSED = object()


class RawResponse(Generic[T]):
    """The final HTTP response of a successful call; `parse()` gives the typed result, parsed once."""

    __slots__ = ("_elapsed", "_operation_id", "_parse", "_parsed", "http_response")

    def __init__(
        self,
        operation_id: str,
        http_response: httpx.Response,
        parse: Callable[[bytes], T],
        elapsed: datetime.timedelta,
    ) -> None:
        self._operation_id = operation_id
        self._elapsed = elapsed
        hide_credentials(http_response)
        self.http_response = http_response
        self._parse = parse
        self._parsed: object = _NOT_PARSED

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def request_id(self) -> Optional[str]:
        """The `x-request-id` the server sent, to quote when reporting a problem."""
        request_id: Optional[str] = self.http_response.headers.get("x-request-id")
        return request_id

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the final attempt's request to reading its whole response."""
        return self._elapsed

    def parse(self) -> T:
        """The typed result; raises ResponseValidationError when the body does not fit."""
        if self._parsed is _NOT_PARSED:
            result = parse_success(self._operation_id, self._parse, self.http_response)
            if isinstance(result, ResponseValidationError):
                raise result
            self._parsed = result
        return self._parsed  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<RawResponse [{self.status_code}] request_id={self.request_id!r}>"


def to_raw_response(method: Callable[P, T]) -> Callable[P, RawResponse[T]]:
    """The same operation, returning its RawResponse instead of the parsed result."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        token = raw_mode.set(True)
        try:
            return method(*args, **kwargs)  # type: ignore[return-value]
        finally:
            raw_mode.reset(token)

    return wrapped


def async_to_raw_response(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    """The same async operation, returning its RawResponse instead of the parsed result."""

    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        token = raw_mode.set(True)
        try:
            return await method(*args, **kwargs)  # type: ignore[return-value]
        finally:
            raw_mode.reset(token)

    return wrapped
