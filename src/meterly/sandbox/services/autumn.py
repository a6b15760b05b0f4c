"""Autumn's HTTP contract: answers are the bare object, errors the flat `{"message", "code", "env"}`."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

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


def _reset_v2_0(breakdown: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    resets = [item["reset"] for item in breakdown if item.get("reset")]
    intervals = {reset["interval"] for reset in resets}
    if len(intervals) > 1:
        return {"interval": "multiple", "resets_at": None}
    return resets[0] if resets else None


def _balance_v2_0(balance: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A 2.1+ `Balance` in API 2.0's shape: granted, purchased (usage past the grant) and current."""
    if balance is None:
        return None
    items: List[Dict[str, Any]] = balance.get("breakdown", [])
    breakdown: List[Dict[str, Any]] = [
        {
            "id": item["id"],
            "plan_id": item["plan_id"],
            "granted_balance": item["included_grant"] + item["prepaid_grant"],
            "purchased_balance": max(0, item["usage"] - item["included_grant"] - item["prepaid_grant"]),
            "current_balance": item["remaining"],
            "usage": item["usage"],
            "max_purchase": None if item["price"] is None else item["price"]["max_purchase"],
            "overage_allowed": balance["overage_allowed"],
            "reset": item["reset"] if item["reset"]["interval"] != "one_off" else None,
            "expires_at": item["expires_at"],
        }
        for item in items
    ]
    result: Dict[str, Any] = {
        "feature_id": balance["feature_id"],
        "unlimited": balance["unlimited"],
        "granted_balance": balance["granted"],
        "purchased_balance": max(0, balance["usage"] - balance["granted"]),
        "current_balance": max(0, balance["remaining"]),
        "usage": balance["usage"],
        "max_purchase": balance["max_purchase"],
        "overage_allowed": balance["overage_allowed"],
        "reset": _reset_v2_0(breakdown),
        "breakdown": breakdown,
    }
    if "rollovers" in balance:
        result["rollovers"] = balance["rollovers"]
    return result


def _in_version(data: Dict[str, Any], version: Optional[str]) -> Dict[str, Any]:
    """API 2.0 (autumn-python's pin) names balances' amounts `granted_balance`, `purchased_balance` and
    `current_balance`; later versions answer as the handlers do."""
    if version is None or not (version == "2.0" or version.startswith("2.0.")):
        return data
    out = dict(data)
    if "balance" in out:
        out["balance"] = _balance_v2_0(out["balance"])
    if isinstance(out.get("balances"), dict):
        out["balances"] = {key: _balance_v2_0(value) for key, value in out["balances"].items()}
    return out


SERVICE = Service(
    "autumn",
    ("",),
    _success,
    _error_body,
    _unauthorized_code,
    rate_limited_code="rate_limit_exceeded",
    aliases=(
        ("/v1/check", "balancesCheck"),
        ("/v1/entitled", "balancesCheck"),
        ("/v1/track", "balancesTrack"),
    ),
    in_version=_in_version,
)
"""Autumn deduplicates none of check and track by header (a resent write counts twice);
`batch_track` dedups its items by their `idempotency_key` (in its handler). The older paths
`/v1/check`, `/v1/entitled` and `/v1/track`, where the Stainless client `autumn-python` posts, reach the
same handlers."""
