"""The HTTP side of the sandbox: routes, request validation, and each operation's error shape."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, Literal, Optional, cast

OperationId = Literal["balancesCheck", "usageCheck"]

ROUTES: Dict[str, OperationId] = {
    "/v1/balances.check": "balancesCheck",
    "/v1/usage/check": "usageCheck",
    "/api/v1/usage/check": "usageCheck",  # Commet's own layout: its clients post to <host>/api/v1/...
}
DOC_URL = "https://docs.meterly.dev/errors#{code}"
MAX_QUANTITY = 2**53 - 1
MAX_IDEMPOTENCY_KEY = 255

INVALID = "invalid_request"
"""The code a `ProtocolError` carries for a request that fails validation; each service renders it in its
own words (Autumn `invalid_inputs`, Commet `validation_error` with `details`)."""

AUTUMN_ENV = "sandbox"
"""The `env` of Autumn's error bodies: a sandbox is never live."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "idempotency_error",
}


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
    """A request the operation refuses: rendered in that operation's error shape."""

    def __init__(self, status: int, code: str, message: str, param: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param


def new_request_id() -> str:
    return "req_sbx_" + uuid.uuid4().hex[:24]


def json_response(
    status: int, body: Any, request_id: str, extra: Optional[Dict[str, str]] = None
) -> SandboxResponse:
    headers = {"content-type": "application/json", "x-request-id": request_id, **(extra or {})}
    return SandboxResponse(status, headers, json.dumps(body, separators=(",", ":")).encode())


def error_response(
    operation: Optional[OperationId],
    error: ProtocolError,
    request_id: str,
    extra: Optional[Dict[str, str]] = None,
) -> SandboxResponse:
    """balances.check (and unknown routes) answer Autumn's flat `{"message","code","env"}`; usage.check
    Commet's envelope, where a failed validation is `validation_error` with a `details` list."""
    if operation == "usageCheck":
        code, kind, details = error.code, _ERROR_TYPES.get(error.status, "api_error"), None
        if code == INVALID:
            code = kind = "validation_error"
            details = [{"field": error.param or "body", "message": error.message}]
        body: Dict[str, Any] = {
            "success": False,
            "error": {
                "type": kind,
                "code": code,
                "message": error.message,
                "param": error.param,
                "details": details,
                "doc_url": DOC_URL.format(code=code),
            },
        }
    else:
        code = "invalid_inputs" if error.code == INVALID else error.code
        body = {"message": error.message, "code": code, "env": AUTUMN_ENV}
    return json_response(error.status, body, request_id, extra)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Dict[str, Any]:
    """The JSON object in `raw` (floats as Decimal), or a 400."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(400, INVALID, "the request body must be a JSON object")
    return cast(Dict[str, Any], value)


def _string(body: Dict[str, Any], name: str, *, required: bool) -> Optional[str]:
    value = body.get(name)
    if value is None and name not in body and not required:
        return None
    if not isinstance(value, str) or not value:
        what = "is required" if name not in body else "must be a non-empty string"
        raise ProtocolError(400, INVALID, f"{name} {what}", name)
    return value


def _bool(body: Dict[str, Any], name: str) -> bool:
    if name not in body:
        return False
    value = body[name]
    if not isinstance(value, bool):
        raise ProtocolError(400, INVALID, f"{name} must be a boolean", name)
    return value


@dataclass(frozen=True)
class BalancesCheckInput:
    customer_id: str
    feature_id: str
    entity_id: Optional[str]
    required_balance: Optional[Decimal]
    properties: Dict[str, Any] = field(default_factory=dict[str, Any])
    send_event: bool = False
    with_preview: bool = False


def parse_balances_check(body: Dict[str, Any]) -> BalancesCheckInput:
    """The validated snake_case body of balances.check."""
    customer_id = _string(body, "customer_id", required=True)
    feature_id = _string(body, "feature_id", required=True)
    entity_id = _string(body, "entity_id", required=False)
    required: Optional[Decimal] = None
    if "required_balance" in body:
        value = body["required_balance"]
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise ProtocolError(400, INVALID, "required_balance must be a number", "required_balance")
        required = Decimal(value)
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        raise ProtocolError(400, INVALID, "properties must be an object", "properties")
    assert customer_id is not None
    assert feature_id is not None
    return BalancesCheckInput(
        customer_id,
        feature_id,
        entity_id,
        required,
        cast(Dict[str, Any], properties),
        _bool(body, "send_event"),
        _bool(body, "with_preview"),
    )


@dataclass(frozen=True)
class UsageCheckInput:
    customer_id: str
    feature_code: str
    quantity: int


def parse_usage_check(body: Dict[str, Any]) -> UsageCheckInput:
    """The validated camelCase body of usage.check."""
    customer_id = _string(body, "customerId", required=True)
    feature_code = _string(body, "featureCode", required=True)
    if "quantity" not in body:
        raise ProtocolError(400, INVALID, "quantity is required", "quantity")
    quantity = body["quantity"]
    if isinstance(quantity, Decimal) and quantity == quantity.to_integral_value():
        quantity = int(quantity)  # 3.0 is an integer in JSON Schema
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ProtocolError(
            400, INVALID, f"quantity must be a whole number from 1 to {MAX_QUANTITY}", "quantity"
        )
    assert customer_id is not None
    assert feature_code is not None
    return UsageCheckInput(customer_id, feature_code, quantity)


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def fingerprint(body: Dict[str, Any]) -> str:
    """The same text for the same JSON, whatever its key order or spacing."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
