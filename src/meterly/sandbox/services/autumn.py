"""Autumn's HTTP contract: answers are the bare object, errors the flat `{"message", "code", "env"}`."""

from __future__ import annotations

from typing import Any, Dict, Optional

from meterly.sandbox._http import INVALID, ProtocolError, Service

ENV = "sandbox"
"""The `env` of Autumn's error bodies: a sandbox is never live."""


def _success(data: Dict[str, Any]) -> Dict[str, Any]:
    return data


def _error_body(error: ProtocolError) -> Dict[str, Any]:
    code = "invalid_inputs" if error.code == INVALID else error.code
    return {"message": error.message, "code": code, "env": ENV}


def _unauthorized_code(key: Optional[str]) -> str:
    return "no_secret_key" if key is None else "invalid_secret_key"


SERVICE = Service(
    "autumn",
    ("",),
    _success,
    _error_body,
    _unauthorized_code,
    rate_limited_code="rate_limit_exceeded",
    honours_idempotency_key=False,
    aliases=(
        ("/v1/check", "balancesCheck"),
        ("/v1/entitled", "balancesCheck"),
        ("/v1/track", "balancesTrack"),
    ),
)
"""Autumn deduplicates none of check and track by header (a resent write counts twice);
`batch_track` dedups its items by their `idempotency_key` (in its handler). The older paths
`/v1/check`, `/v1/entitled` and `/v1/track`, where the Stainless client `autumn-python` posts, reach the
same handlers."""
