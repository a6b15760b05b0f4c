"""Sandbox answers of balances.check, track, track_tokens, batch_track and finalize fit Autumn's published
contract (OpenAPI 2.3.0, useautumn/autumn, packages/openapi/openapi.yml; for batch_track's item keys and
track deductions' `reset`, the 2.5.0 models of autumn-sdk 1.2.0).

The schemas below are written here from facts read in that document (which fields each object requires,
which may be null, which enums are closed), not copied from it; fields the sandbox never sends are
left out. A validator nobody here wrote (jsonschema-rs) applies them.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import jsonschema_rs
import pytest

from meterly.sandbox import DEFAULT_API_KEY, SandboxClock, SandboxEngine

NUMBER_OR_NULL = {"type": ["number", "null"]}
STRING_OR_NULL = {"type": ["string", "null"]}
INTERVALS = ["minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year"]

FEATURE: Dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "type", "consumable", "archived"],
    "properties": {"type": {"enum": ["boolean", "metered", "credit_system", "ai_credit_system"]}},
}
FLAG: Dict[str, Any] = {
    "type": "object",
    "required": ["id", "plan_id", "expires_at", "feature_id"],
    "properties": {
        "id": {"type": "string"},
        "plan_id": STRING_OR_NULL,
        "expires_at": NUMBER_OR_NULL,
        "feature_id": {"type": "string"},
        "feature": FEATURE,
    },
}
BREAKDOWN: Dict[str, Any] = {
    "type": "object",
    "required": [
        "plan_id",
        "included_grant",
        "prepaid_grant",
        "remaining",
        "usage",
        "unlimited",
        "reset",
        "price",
        "expires_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "plan_id": STRING_OR_NULL,
        "included_grant": {"type": "number"},
        "prepaid_grant": {"type": "number"},
        "remaining": {"type": "number"},
        "usage": {"type": "number"},
        "unlimited": {"type": "boolean"},
        "reset": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["interval", "resets_at"]},
            ]
        },
        "price": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["billing_units", "billing_method", "max_purchase"]},
            ]
        },
        "expires_at": NUMBER_OR_NULL,
    },
}
BALANCE: Dict[str, Any] = {
    "type": "object",
    "required": [
        "feature_id",
        "granted",
        "remaining",
        "usage",
        "unlimited",
        "overage_allowed",
        "max_purchase",
        "next_reset_at",
    ],
    "properties": {
        "feature_id": {"type": "string"},
        "feature": FEATURE,
        "granted": {"type": "number"},
        "remaining": {"type": "number"},
        "usage": {"type": "number"},
        "unlimited": {"type": "boolean"},
        "overage_allowed": {"type": "boolean"},
        "max_purchase": NUMBER_OR_NULL,
        "next_reset_at": NUMBER_OR_NULL,
        "breakdown": {"type": "array", "items": BREAKDOWN},
        "rollovers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["granted", "balance", "expires_at"],
                "properties": {
                    "granted": {"type": "number"},
                    "balance": {"type": "number"},
                    "expires_at": {"type": "number"},
                },
            },
        },
    },
}
PRODUCT_ITEM: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"enum": ["feature", "priced_feature", "price", None]},
        "feature_id": STRING_OR_NULL,
        "feature_type": {"enum": ["single_use", "continuous_use", "boolean", "static", None]},
        "included_usage": {"anyOf": [{"type": ["number", "null"]}, {"const": "inf"}]},
        "interval": {"enum": [*INTERVALS, None]},
        "interval_count": NUMBER_OR_NULL,
        "price": NUMBER_OR_NULL,
        "usage_model": {"enum": ["prepaid", "pay_per_use", None]},
        "billing_units": NUMBER_OR_NULL,
    },
}
PRODUCT: Dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "name",
        "group",
        "env",
        "is_add_on",
        "is_default",
        "archived",
        "version",
        "created_at",
        "items",
        "free_trial",
        "base_variant_id",
    ],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "group": STRING_OR_NULL,
        "env": {"enum": ["sandbox", "live"]},
        "is_add_on": {"type": "boolean"},
        "is_default": {"type": "boolean"},
        "archived": {"type": "boolean"},
        "version": {"type": "number"},
        "created_at": {"type": "number"},
        "items": {"type": "array", "items": PRODUCT_ITEM},
        "free_trial": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["duration", "length", "unique_fingerprint", "card_required"]},
            ]
        },
        "base_variant_id": STRING_OR_NULL,
    },
}
PREVIEW: Dict[str, Any] = {
    "type": "object",
    "required": ["scenario", "title", "message", "feature_id", "feature_name", "products"],
    "properties": {
        "scenario": {"enum": ["usage_limit", "feature_flag"]},
        "title": {"type": "string"},
        "message": {"type": "string"},
        "feature_id": {"type": "string"},
        "feature_name": {"type": "string"},
        "products": {"type": "array", "items": PRODUCT},
    },
}
CHECK_RESPONSE: Dict[str, Any] = {
    "type": "object",
    "required": ["allowed", "customer_id", "balance", "flag"],
    "properties": {
        "allowed": {"type": "boolean"},
        "customer_id": {"type": "string"},
        "entity_id": STRING_OR_NULL,
        "required_balance": {"type": "number"},
        "balance": {"oneOf": [{"type": "null"}, BALANCE]},
        "balances": {"type": "object", "additionalProperties": {"oneOf": [{"type": "null"}, BALANCE]}},
        "flag": {"oneOf": [{"type": "null"}, FLAG]},
        "preview": PREVIEW,
    },
}
ERROR: Dict[str, Any] = {
    "type": "object",
    "required": ["message", "code", "env"],
    "properties": {
        "message": {"type": "string"},
        "code": {"type": "string"},
        "env": {"enum": ["sandbox", "live"]},
    },
}

CHECKS: List[Dict[str, Any]] = [
    {"customer_id": "cus_pro", "feature_id": "messages"},
    {"customer_id": "cus_pro", "feature_id": "api_calls", "required_balance": 20, "send_event": True},
    {"customer_id": "cus_pro", "feature_id": "sso"},
    {"customer_id": "cus_pro", "feature_id": "image", "required_balance": 2},
    {"customer_id": "cus_pro", "feature_id": "chat", "required_balance": 5000, "with_preview": True},
    {"customer_id": "cus_free", "feature_id": "messages", "required_balance": 3, "with_preview": True},
    {"customer_id": "cus_free", "feature_id": "sso", "with_preview": True},
    {"customer_id": "cus_free", "feature_id": "ai_credits", "with_preview": True},
    {"customer_id": "cus_team", "feature_id": "messages", "entity_id": "seat_alice", "with_preview": True},
    {"customer_id": "cus_team", "feature_id": "messages"},
    {"customer_id": "cus_wallet", "feature_id": "sms", "required_balance": 3},
]


def _post(engine: SandboxEngine, body: Dict[str, Any]) -> Any:
    headers = {"authorization": f"Bearer {DEFAULT_API_KEY}", "content-type": "application/json"}
    answer = engine.handle("POST", "/v1/balances.check", headers, json.dumps(body).encode())
    return answer.status, answer.json()


def _problems(schema: Dict[str, Any], instance: Any) -> List[str]:
    return [
        f"{list(error.instance_path)}: {error.message}"
        for error in jsonschema_rs.iter_errors(schema, instance)
    ]


@pytest.fixture
def engine() -> SandboxEngine:
    """The demo a month and a day on: plans have reset and rolled over unused messages."""
    engine = SandboxEngine.demo(clock=SandboxClock(1_767_225_600.0, frozen=True))
    engine.clock.advance(32 * 86_400)
    return engine


@pytest.mark.parametrize("body", CHECKS, ids=lambda body: "-".join(str(value) for value in body.values()))
def test_every_check_answer_fits_the_published_check_response(
    engine: SandboxEngine, body: Dict[str, Any]
) -> None:
    status, answer = _post(engine, body)
    assert status == 200
    assert _problems(CHECK_RESPONSE, answer) == []


def test_the_scenarios_reach_every_part_of_the_shape(engine: SandboxEngine) -> None:
    answers = [_post(engine, body)[1] for body in CHECKS]
    balances = [answer["balance"] for answer in answers if answer["balance"] is not None]
    assert any(answer["flag"] is not None for answer in answers)
    assert {answer["preview"]["scenario"] for answer in answers if "preview" in answer} == {
        "usage_limit",
        "feature_flag",
    }
    assert any(balance.get("rollovers") for balance in balances)
    assert any(
        item.get("price") is not None
        for a in answers
        for p in a.get("preview", {}).get("products", [])
        for item in p["items"]
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"customer_id": "cus_nobody", "feature_id": "messages"}, 404, "customer_not_found"),
        ({"customer_id": "cus_pro", "feature_id": "teleport"}, 404, "feature_not_found"),
        ({"customer_id": "cus_pro"}, 400, "invalid_inputs"),
        ({"customer_id": "cus_pro", "feature_id": "messages", "send_event": "yes"}, 400, "invalid_inputs"),
    ],
)
def test_errors_fit_the_published_error_shape(
    engine: SandboxEngine, body: Dict[str, Any], status: int, code: Optional[str]
) -> None:
    got_status, answer = _post(engine, body)
    assert (got_status, answer["code"]) == (status, code)
    assert _problems(ERROR, answer) == []


def test_the_schemas_catch_a_product_that_lacks_required_fields() -> None:
    incomplete = {
        "allowed": False,
        "customer_id": "c",
        "balance": None,
        "flag": None,
        "preview": {
            "scenario": "feature_flag",
            "title": "t",
            "message": "m",
            "feature_id": "f",
            "feature_name": "F",
            "products": [{"id": "pro", "name": "Pro"}],
        },
    }
    problems = _problems(CHECK_RESPONSE, incomplete)
    assert any('"group" is a required property' in problem for problem in problems), problems
    assert _problems(CHECK_RESPONSE, {"allowed": True, "customer_id": "c", "balance": None}) == [
        '[]: "flag" is a required property'
    ]


RESET_OR_NULL: Dict[str, Any] = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "required": ["interval", "resets_at"],
            "properties": {"interval": {"type": "string"}, "resets_at": NUMBER_OR_NULL},
        },
    ]
}
TRACK_RESPONSE: Dict[str, Any] = {
    "type": "object",
    "required": ["customer_id", "value", "balance"],
    "properties": {
        "customer_id": {"type": "string"},
        "value": {"type": "number"},
        "balance": {"oneOf": [{"type": "null"}, BALANCE]},
        "entity_id": {"type": "string"},
        "event_name": {"type": "string"},
        "balances": {"type": "object", "additionalProperties": {"oneOf": [{"type": "null"}, BALANCE]}},
        "deductions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["balance_id", "feature_id", "plan_id", "reset", "value"],
                "properties": {
                    "balance_id": {"type": "string"},
                    "feature_id": {"type": "string"},
                    "plan_id": STRING_OR_NULL,
                    "reset": RESET_OR_NULL,
                    "value": {"type": "number"},
                },
            },
        },
    },
}
SUCCESS: Dict[str, Any] = {
    "type": "object",
    "required": ["success"],
    "properties": {"success": {"type": "boolean"}},
}

WRITES: List[Any] = [
    (
        "/v1/balances.track",
        {"customer_id": "cus_pro", "feature_id": "messages", "value": 3},
        200,
        TRACK_RESPONSE,
    ),
    (
        "/v1/balances.track",
        {"customer_id": "cus_pro", "feature_id": "messages", "value": -1},
        200,
        TRACK_RESPONSE,
    ),
    ("/v1/balances.track", {"customer_id": "cus_pro", "event_name": "chat_message"}, 200, TRACK_RESPONSE),
    (
        "/v1/balances.track",
        {"customer_id": "cus_pro", "feature_id": "image", "value": 2},
        200,
        TRACK_RESPONSE,
    ),
    (
        "/v1/balances.track",
        {"customer_id": "cus_team", "feature_id": "messages", "entity_id": "seat_bob", "value": 100},
        200,
        TRACK_RESPONSE,
    ),
    (
        "/v1/balances.track",
        {"customer_id": "cus_pro", "feature_id": "api_calls", "async": True},
        202,
        TRACK_RESPONSE,
    ),
    ("/v1/track", {"customer_id": "cus_free", "feature_id": "messages"}, 200, TRACK_RESPONSE),
    (
        "/v1/balances.track_tokens",
        {
            "customer_id": "cus_pro",
            "model_id": "openai/gpt-4o-mini",
            "input_tokens": 900,
            "output_tokens": 80,
        },
        200,
        TRACK_RESPONSE,
    ),
    (
        "/v1/balances.batch_track",
        [{"customer_id": "cus_pro", "feature_id": "messages", "idempotency_key": "spec-1"}],
        202,
        SUCCESS,
    ),
]


def _post_to(engine: SandboxEngine, path: str, body: Any) -> Any:
    headers = {"authorization": f"Bearer {DEFAULT_API_KEY}", "content-type": "application/json"}
    answer = engine.handle("POST", path, headers, json.dumps(body).encode())
    return answer.status, answer.json()


@pytest.mark.parametrize(("path", "body", "status", "schema"), WRITES, ids=lambda v: str(v)[:40])
def test_every_write_answer_fits_the_published_shape(
    engine: SandboxEngine, path: str, body: Any, status: int, schema: Dict[str, Any]
) -> None:
    got_status, answer = _post_to(engine, path, body)
    assert got_status == status, answer
    assert _problems(schema, answer) == []


def test_a_lock_check_and_its_finalize_fit_the_published_shapes(engine: SandboxEngine) -> None:
    lock = {"lock_id": "spec-lock", "enabled": True}
    status, held = _post_to(
        engine, "/v1/balances.check", {"customer_id": "cus_pro", "feature_id": "messages", "lock": lock}
    )
    assert (status, _problems(CHECK_RESPONSE, held)) == (200, [])
    status, finalized = _post_to(
        engine, "/v1/balances.finalize", {"lock_id": "spec-lock", "action": "confirm"}
    )
    assert (status, _problems(SUCCESS, finalized)) == (200, [])
    status, missing = _post_to(engine, "/v1/balances.finalize", {"lock_id": "spec-lock", "action": "confirm"})
    assert (status, missing["code"], _problems(ERROR, missing)) == (404, "lock_not_found", [])


def test_the_track_schema_catches_a_deduction_without_its_reset() -> None:
    answer = {
        "customer_id": "c",
        "value": 1,
        "balance": None,
        "deductions": [{"balance_id": "b", "feature_id": "f", "plan_id": None, "value": 1}],
    }
    assert _problems(TRACK_RESPONSE, answer) == ["['deductions', 0]: \"reset\" is a required property"]
