"""What every route of the sandbox shares, whichever service it imitates: the answer (`SandboxResponse`),
the refusal (`ProtocolError`), JSON bodies in and out, request ids, and API keys in headers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, Optional, Tuple

from meterly._declaration import SecurityScheme

MAX_IDEMPOTENCY_KEY = 255

INVALID = "invalid_request"
"""The code a `ProtocolError` carries for a request that fails validation; each service renders it in its
own words (Autumn `invalid_inputs`, Commet `validation_error` with `details`)."""


@dataclass(frozen=True)
class SandboxResponse:
    """What the engine answers; `drop` tells the front end to close the connection without answering."""

    status: int
    headers: Dict[str, str]
    body: bytes
    drop: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class ProtocolError(Exception):
    """A request the operation refuses: its service renders it in that service's error shape.

    `param` is the JSON key (or header) at fault, as the request spelled it.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}
        """Headers the refusal carries (a 429's `retry-after`)."""


def new_request_id() -> str:
    return "req_sbx_" + uuid.uuid4().hex[:24]


def json_response(
    status: int, body: Any, request_id: str, extra: Optional[Dict[str, str]] = None
) -> SandboxResponse:
    headers = {"content-type": "application/json", "x-request-id": request_id, **(extra or {})}
    return SandboxResponse(status, headers, json.dumps(body, separators=(",", ":")).encode())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Any:
    """The JSON value in `raw` (floats as Decimal), or a 400; each operation says which shape it takes."""
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError(400, "invalid_json", "the request body is not valid JSON") from None


def fingerprint(body: Any) -> str:
    """The same text for the same JSON, whatever its key order or spacing."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def presented_key(scheme: SecurityScheme, headers: Dict[str, str]) -> Optional[str]:
    """The key a request sends for `scheme` (header names in lower case)."""
    value = headers.get(scheme.header)
    if scheme.prefix:
        return bearer_token(value)
    return value


def scheme_hint(scheme: SecurityScheme) -> str:
    """How to send a key for `scheme`, for a 401's message."""
    if scheme.prefix:
        return f"an {scheme.header.capitalize()}: {scheme.prefix.strip()} header"
    return f"an {scheme.header} header"


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


@dataclass(frozen=True)
class Service:
    """One service the sandbox imitates: where it serves, how it wraps answers and how it words errors."""

    name: str
    prefixes: Tuple[str, ...]
    """Each operation of the service is served at its registry path under each of these."""
    success: Callable[[Dict[str, Any]], Dict[str, Any]]
    """The body of a 200 from an operation's answer."""
    error_body: Callable[[ProtocolError], Dict[str, Any]]
    """The body of a refusal."""
    unauthorized_code: Callable[[Optional[str]], str]
    """The code of a 401, from the key presented (None when there was none)."""
    rate_limited_code: str
    """The code of a 429."""
    aliases: Tuple[Tuple[str, str], ...] = ()
    """(path, operation id): older paths the service still routes to an operation's handler."""
    in_version: Callable[[Dict[str, Any], Optional[str]], Dict[str, Any]] = lambda data, version: data
    """An answer in the shape of the API version the request asked for (its version header)."""
