"""A fake Meterly on 127.0.0.1 answering both operations with canned bodies, for running the docs' examples.

Customer `cus_missing` gets a 404 in the operation's error shape; a missing key gets a 401.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Dict, Optional

from meterly.models.checkresponse import BALANCE_EXAMPLE
from tests.loopback import Answer, LoopbackServer, Received, serve

MISSING_CUSTOMER = "cus_missing"
REQUEST_ID = "req_docs_0001"


def _json(status: int, body: Any) -> Answer:
    headers = {"content-type": "application/json", "x-request-id": REQUEST_ID}
    return status, headers, json.dumps(body).encode()


def _flat_error(status: int, code: str, message: str) -> Answer:
    return _json(status, {"message": message, "code": code})


def _enveloped_error(status: int, kind: str, code: str, message: str, param: Optional[str] = None) -> Answer:
    error = {"type": kind, "code": code, "message": message, "param": param, "details": None, "doc_url": None}
    return _json(status, {"success": False, "error": error})


def _balances_check(received: Received, body: Dict[str, Any]) -> Answer:
    if not received.headers.get("authorization", "").removeprefix("Bearer ").strip():
        return _flat_error(401, "unauthorized", "Missing or invalid API key")
    if body.get("customer_id") == MISSING_CUSTOMER:
        return _flat_error(404, "customer_not_found", f"Customer {MISSING_CUSTOMER} not found")
    answer: Dict[str, Any] = {
        "allowed": True,
        "customer_id": body.get("customer_id"),
        "balance": {**BALANCE_EXAMPLE, "feature_id": body.get("feature_id")},
    }
    for key in ("entity_id", "required_balance"):
        if key in body:
            answer[key] = body[key]
    return _json(200, answer)


def _usage_check(received: Received, body: Dict[str, Any]) -> Answer:
    if not received.headers.get("x-api-key", "").strip():
        return _enveloped_error(401, "authentication_error", "unauthorized", "Missing or invalid API key")
    if body.get("customerId") == MISSING_CUSTOMER:
        return _enveloped_error(
            404, "invalid_request_error", "customer_not_found", "Customer not found", "customerId"
        )
    data = {
        "allowed": True,
        "consumptionModel": "metered",
        "featureCode": body.get("featureCode"),
        "quantity": body.get("quantity"),
        "current": 40,
        "remaining": 60,
        "included": 100,
        "unlimited": False,
        "overageEnabled": False,
        "object": "usage_check",
        "livemode": False,
    }
    return _json(200, {"success": True, "data": data})


def respond(received: Received) -> Answer:
    """The fake service: route by path, answer in each operation's own shapes."""
    try:
        body = json.loads(received.body or b"{}")
    except ValueError:
        return _flat_error(400, "invalid_json", "The body is not JSON")
    if received.path == "/v1/balances.check":
        return _balances_check(received, body)
    if received.path in ("/v1/usage/check", "/api/v1/usage/check"):  # the second: Commet's own layout
        return _usage_check(received, body)
    return _flat_error(404, "not_found", f"No route {received.path}")


@contextmanager
def fake_meterly() -> Iterator[LoopbackServer]:
    """Serve the fake Meterly on a free loopback port until the block ends."""
    with serve(respond) as server:
        yield server
