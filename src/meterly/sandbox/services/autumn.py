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


SERVICE = Service("autumn", ("",), _success, _error_body, _unauthorized_code)
