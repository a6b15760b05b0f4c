"""balances.track (and its `/v1/track` alias) and balances.track_tokens, straight to the engine: the
SDK's methods for them are generated from the registry, after this sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict

import pytest

from meterly.sandbox import SandboxEngine

from ..conftest import CHECK, post

TRACK = "/v1/balances.track"
TOKENS = "/v1/balances.track_tokens"


def _balance(engine: SandboxEngine, customer_id: str, feature_id: str) -> Dict[str, Any]:
    balance = engine.balance(customer_id, feature_id)
    assert balance is not None
    return dict(balance)


def test_track_records_the_value_and_answers_the_balance_after_it(engine: SandboxEngine) -> None:
    answer = post(engine, TRACK, {"customer_id": "cus_basic", "feature_id": "messages", "value": 4})
    assert answer.status == 200
    body = answer.json()
    assert (body["customer_id"], body["value"], body["balance"]["usage"]) == ("cus_basic", 4, 4)
    assert body["balances"]["messages"]["remaining"] == 6
    [deduction] = body["deductions"]
    assert (deduction["feature_id"], deduction["plan_id"], deduction["value"]) == ("messages", "basic", 4)


def test_track_defaults_to_one_unit(engine: SandboxEngine) -> None:
    assert post(engine, TRACK, {"customer_id": "cus_basic", "feature_id": "messages"}).json()["value"] == 1
    assert _balance(engine, "cus_basic", "messages")["usage"] == 1


def test_the_older_v1_track_path_reaches_the_same_handler(engine: SandboxEngine) -> None:
    answer = post(engine, "/v1/track", {"customer_id": "cus_basic", "feature_id": "messages", "value": 2})
    assert answer.status == 200
    assert _balance(engine, "cus_basic", "messages")["usage"] == 2


def test_a_negative_value_gives_usage_back(engine: SandboxEngine) -> None:
    post(engine, TRACK, {"customer_id": "cus_basic", "feature_id": "messages", "value": 7})
    answer = post(engine, TRACK, {"customer_id": "cus_basic", "feature_id": "messages", "value": -3})
    assert answer.json()["balance"]["usage"] == 4
    assert answer.json()["deductions"][0]["value"] == -3


def test_cap_deducts_only_what_is_left_and_stops_at_zero(engine: SandboxEngine) -> None:
    body = {"customer_id": "cus_basic", "feature_id": "messages", "value": 25}
    answer = post(engine, TRACK, body).json()
    assert (answer["balance"]["usage"], answer["balance"]["remaining"]) == (10, 0)
    assert answer["deductions"][0]["value"] == 10


def test_overflow_deducts_everything_past_the_grant(engine: SandboxEngine) -> None:
    body = {"customer_id": "cus_basic", "feature_id": "messages", "value": 25, "overage_behavior": "overflow"}
    answer = post(engine, TRACK, body).json()
    assert (answer["balance"]["usage"], answer["balance"]["remaining"]) == (25, 0)  # floored, as Autumn's
    denied = post(engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages"}).json()
    assert denied["allowed"] is False


def test_an_unknown_overage_behavior_is_400_naming_it(engine: SandboxEngine) -> None:
    body = {"customer_id": "cus_basic", "feature_id": "messages", "overage_behavior": "spill"}
    answer = post(engine, TRACK, body)
    assert answer.status == 400
    assert "overage_behavior" in answer.json()["message"]


def test_async_answers_202_with_a_null_balance_and_still_records(engine: SandboxEngine) -> None:
    answer = post(
        engine, TRACK, {"customer_id": "cus_basic", "feature_id": "messages", "value": 2, "async": True}
    )
    assert answer.status == 202
    assert answer.json()["balance"] is None
    assert _balance(engine, "cus_basic", "messages")["usage"] == 2


def test_an_event_name_records_every_feature_it_maps_to(engine: SandboxEngine) -> None:
    engine.features["messages"].event_names.append("reply_sent")
    engine.features["chat"].event_names.append("reply_sent")
    engine.attach_plan("cus_basic", "pro")
    answer = post(engine, TRACK, {"customer_id": "cus_basic", "event_name": "reply_sent", "value": 2})
    body = answer.json()
    assert answer.status == 200
    assert body["event_name"] == "reply_sent"
    assert body["balance"] is None  # several features: see `balances`
    assert set(body["balances"]) == {"messages", "credits"}
    assert _balance(engine, "cus_basic", "messages")["usage"] == 2
    assert _balance(engine, "cus_basic", "credits")["usage"] == 2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"customer_id": "cus_basic"}, "feature_id"),
        ({"customer_id": "cus_basic", "feature_id": "messages", "event_name": "x"}, "feature_id"),
        ({"customer_id": "cus_basic", "event_name": "never_mapped"}, "event_name"),
        ({"customer_id": "cus_basic", "feature_id": "sso"}, "feature_id"),
        ({"customer_id": "cus_basic", "feature_id": "messages", "timestamp": "yesterday"}, "timestamp"),
        ({"customer_id": "cus_basic", "feature_id": "messages", "async": "yes"}, "async"),
    ],
)
def test_a_track_the_sandbox_cannot_record_is_refused_naming_the_field(
    engine: SandboxEngine, body: Dict[str, Any], named: str
) -> None:
    answer = post(engine, TRACK, body)
    assert answer.status in (400, 404)
    assert named in answer.json()["message"]
    assert _balance(engine, "cus_basic", "messages")["usage"] == 0


def test_track_is_not_deduplicated_by_idempotency_key(engine: SandboxEngine) -> None:
    body = {"customer_id": "cus_basic", "feature_id": "messages"}
    post(engine, TRACK, body, idempotency_key="same")
    post(engine, TRACK, body, idempotency_key="same")
    assert _balance(engine, "cus_basic", "messages")["usage"] == 2


def _priced_engine(engine: SandboxEngine) -> SandboxEngine:
    engine.features["credits"].model_prices["openai/gpt-4o-mini"] = {
        "input": Decimal(150),
        "output": Decimal(600),
    }
    engine.attach_plan("cus_basic", "pro")
    return engine


def test_track_tokens_prices_the_tokens_by_model_in_the_credit_system(engine: SandboxEngine) -> None:
    _priced_engine(engine)
    body = {
        "customer_id": "cus_basic",
        "model_id": "openai/gpt-4o-mini",
        "input_tokens": 10_000,
        "output_tokens": 5_000,
    }
    answer = post(engine, TOKENS, body)
    assert answer.status == 200
    assert answer.json()["value"] == 4.5  # 10k x 150/M + 5k x 600/M
    assert answer.json()["balance"]["feature_id"] == "credits"
    assert _balance(engine, "cus_basic", "credits")["usage"] == 4.5


def test_track_tokens_of_an_unpriced_kind_or_model_is_refused_naming_it(engine: SandboxEngine) -> None:
    _priced_engine(engine)
    base = {
        "customer_id": "cus_basic",
        "model_id": "openai/gpt-4o-mini",
        "input_tokens": 1,
        "output_tokens": 1,
    }
    unpriced = post(engine, TOKENS, {**base, "reasoning_tokens": 10})
    assert unpriced.status == 400
    assert "reasoning_tokens" in unpriced.json()["message"]
    unknown = post(engine, TOKENS, {**base, "model_id": "acme/unknown"})
    assert (unknown.status, unknown.json()["code"]) == (404, "model_not_found")
    assert _balance(engine, "cus_basic", "credits")["usage"] == 0
