"""Commet's HTTP contract: answers and errors come in the `{"success", ...}` envelope, a failed validation
is `validation_error` with a `details` list, and every operation is also served under `/api` (Commet's
own layout: its clients post to <host>/api/v1/...)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from meterly.sandbox._http import INVALID, ProtocolError, Service

DOC_URL = "https://docs.meterly.dev/errors#{code}"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    402: "billing_error",
    409: "idempotency_error",
    429: "rate_limit_error",
}


def _success(data: Dict[str, Any]) -> Dict[str, Any]:
    return {"success": True, "data": {**data, "livemode": False}}


def _error_body(error: ProtocolError) -> Dict[str, Any]:
    code, kind, details = error.code, _ERROR_TYPES.get(error.status, "api_error"), None
    if code == INVALID:
        code = kind = "validation_error"
        details = [{"field": error.param or "body", "message": error.message}]
    return {
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


def _unauthorized_code(key: Optional[str]) -> str:
    return "unauthorized"


SERVICE = Service(
    "commet",
    ("", "/api"),
    _success,
    _error_body,
    _unauthorized_code,
    rate_limited_code="rate_limited",
)
"""Commet honours `Idempotency-Key` on every route for 24 hours."""
