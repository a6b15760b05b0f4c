"""The exception tree: catch `MeterlyError` for everything, or a subclass for one kind of failure.

An error's text is bounded, whatever it echoes (a service's message, an argument, a redirect target):
its `message` (and so `str()` and `repr()`) keeps at most `MAX_MESSAGE_CHARS` characters, and the
request id and code it shows at most `MAX_DETAIL_CHARS` each; the middle of a longer text is replaced by
`[... N characters cut ...]`. `body` always keeps the whole body, and `code` and `request_id` their
whole values.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import httpx

from meterly._redaction import hide_credentials

__all__ = [
    "MAX_DETAIL_CHARS",
    "MAX_MESSAGE_CHARS",
    "JSONValue",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "MeterlyError",
    "NotFoundError",
    "OutboxFullError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseMismatchError",
    "ResponseValidationError",
    "UnprocessableEntityError",
    "WriteOutcomeUnknownError",
]


MAX_MESSAGE_CHARS = 1_000
"""The most characters of an error's message that its `message`, `str()` and `repr()` keep."""

MAX_DETAIL_CHARS = 100
"""The most characters of a request id or error code that `str()` shows."""


def shorten(text: str, limit: int) -> str:
    """`text`, or its head and tail with the middle replaced by a marker saying how much was cut, so that
    the result is at most `limit` characters (for a `limit` of at least 60)."""
    if len(text) <= limit:
        return text
    marker = " [... {} characters cut ...] "
    room = limit - len(marker.format(len(text)))
    head = room * 2 // 3
    tail = room - head
    return text[:head] + marker.format(len(text) - head - tail) + text[len(text) - tail :]


def shown(value: object, limit: int = 80) -> str:
    """`repr(value)` for an error message, cut to `limit` characters (and safe for an int too long for
    `repr`, nested too deep, or whose `repr` fails): a message echoes what it was given, never a
    megabyte of it."""
    try:
        text = repr(value)
    except Exception:  # an int past sys.get_int_max_str_digits(), a container nested too deep, a broken repr
        return f"a {type(value).__name__} that cannot be shown"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


JSONValue = Union[None, bool, int, float, str, List["JSONValue"], Dict[str, "JSONValue"]]
"""Any value a JSON document can hold, as `json.loads` gives it: what a service's error `details` are."""


class MeterlyError(Exception):
    """Base of every error the SDK raises."""

    message: str
    headers: httpx.Headers
    body: str
    raw_response: Optional[httpx.Response]
    request_id: Optional[str]
    attempts: int
    """How many attempts the call made before this error was raised (1: it was not retried)."""
    elapsed: Optional[float]
    """Seconds from the call's start to this error, all attempts and waits included (None: no call)."""

    def __init__(
        self,
        message: str,
        *,
        raw_response: Optional[httpx.Response] = None,
        body: Optional[str] = None,
    ) -> None:
        message = shorten(message, MAX_MESSAGE_CHARS)
        super().__init__(message)
        self.message = message
        self.raw_response = raw_response
        self.attempts = 1
        self.elapsed = None
        if raw_response is not None:
            hide_credentials(raw_response)
            self._status_code: Optional[int] = raw_response.status_code
            self.headers = raw_response.headers
            self.request_id = raw_response.headers.get("x-request-id")
            self.body = raw_response.text if body is None else body
        else:
            self._status_code = None
            self.headers = httpx.Headers()
            self.request_id = None
            self.body = body or ""

    @property
    def status_code(self) -> Optional[int]:
        """The HTTP status of the response, or None when there was none (an `APIError` always has one)."""
        return self._status_code

    def __str__(self) -> str:
        parts = [self.message, *self._details()]
        if self.attempts > 1 and self.elapsed is not None:
            parts.append(f"after {self.attempts} attempts in {self.elapsed:.2f} s")
        return " | ".join(parts)

    def _details(self) -> list[str]:
        parts: list[str] = []
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.request_id:
            parts.append(f"request_id={shorten(self.request_id, MAX_DETAIL_CHARS)}")
        return parts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class APIError(MeterlyError):
    """The service answered with a non-2xx status."""

    code: Optional[str]
    type: Optional[str]
    param: Optional[str]
    details: JSONValue
    """The error's structured details as the service sent them (JSON), e.g. Commet's list of
    `{"field", "message"}` for a `validation_error`; None when it sent none."""
    doc_url: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        raw_response: httpx.Response,
        body: Optional[str] = None,
        code: Optional[str] = None,
        type: Optional[str] = None,
        param: Optional[str] = None,
        details: JSONValue = None,
        doc_url: Optional[str] = None,
    ) -> None:
        super().__init__(message, raw_response=raw_response, body=body)
        self._status = raw_response.status_code
        self.code = code
        self.type = type
        self.param = param
        self.details = details
        self.doc_url = doc_url

    @property
    def status_code(self) -> int:
        """The HTTP status of the response."""
        return self._status

    def _details(self) -> list[str]:
        parts = super()._details()
        return [*parts, f"code={shorten(self.code, MAX_DETAIL_CHARS)}"] if self.code else parts


class BadRequestError(APIError):
    """400: the request was malformed."""


class AuthenticationError(APIError):
    """401: the key is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class NotFoundError(APIError):
    """404: e.g. `customer_not_found` or `feature_not_found`."""


class ConflictError(APIError):
    """409: e.g. an Idempotency-Key reused with a different body."""


class UnprocessableEntityError(APIError):
    """422: the request was well-formed but not acceptable."""


class RateLimitError(APIError):
    """429: too many requests; `retry_after` is the wait the server asked for, in seconds."""

    retry_after: Optional[float]

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIError):
    """5xx: the service failed."""


class APIConnectionError(MeterlyError):
    """No response arrived: DNS failure, connection refused or reset, closed before answering."""


class APITimeoutError(APIConnectionError):
    """An attempt did not finish within its timeout."""


class WriteOutcomeUnknownError(APIConnectionError):
    """A write that may have been recorded: its request may have reached the service, and the answer was
    lost (a timeout after sending, a reset, a 5xx, the client closed while it ran). The SDK never resends
    a write the service does not deduplicate once it may have arrived: counting usage twice is worse than
    raising. `idempotency_key` and `operation` (the operation id) say which write; `__cause__` is the
    failure that hid the outcome."""

    def __init__(self, message: str, *, idempotency_key: Optional[str], operation: str, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.idempotency_key = idempotency_key
        self.operation = operation

    def _details(self) -> list[str]:
        return [*super()._details(), f"operation={self.operation}"]


class ResponseMismatchError(MeterlyError):
    """A 2xx answer that echoes another request (another customer, feature or event id): a proxy or a
    kept-alive connection handed over someone else's answer. It is never returned; the connection that
    carried it is discarded. `body` and `raw_response` keep what arrived; `field` names the first
    echoed parameter that differed."""

    def __init__(self, message: str, *, field: str, raw_response: httpx.Response) -> None:
        super().__init__(message, raw_response=raw_response)
        self.field = field


class ResponseValidationError(MeterlyError):
    """A 2xx body that is not JSON or does not fit the model; `body` keeps it as received."""

    def __init__(self, message: str, *, raw_response: httpx.Response, cause: Optional[Exception] = None):
        super().__init__(message, raw_response=raw_response)
        self.cause = cause


class RequestValidationError(MeterlyError, ValueError):
    """An argument is invalid; raised before any network I/O. `param` names it."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param


class OutboxFullError(MeterlyError):
    """The usage outbox holds `max_pending` events and its `on_full` is "raise": this one was not queued."""

    def __init__(self, max_pending: int) -> None:
        super().__init__(
            f"the usage outbox holds max_pending={max_pending} events: this one was not queued "
            '(raise max_pending, or choose on_full="drop_oldest")'
        )
        self.max_pending = max_pending
