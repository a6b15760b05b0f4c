"""Scenarios of Autumn's own server tests (useautumn/autumn, `server/tests/integration/balances/`),
replayed against the sandbox: each test names the scenario it replays, with the same plan, the same
calls and the answers Autumn's test expects, in the API 2.x shape the sandbox serves."""

from __future__ import annotations

from typing import Any, Dict, List

from meterly.sandbox import SandboxEngine

from .conftest import CHECK, START_MS, post

TRACK = "/v1/balances.track"


def _engine(
    features: List[Dict[str, Any]], plan_features: List[Dict[str, Any]], attach: bool = True
) -> SandboxEngine:
    return SandboxEngine.from_seed(
        {
            "clock": {"now_ms": START_MS, "frozen": True},
            "features": features,
            "plans": [{"id": "free", "name": "Free", "features": plan_features}],
            "customers": [{"id": "cus", "plans": ["free"] if attach else []}],
        }
    )


MESSAGES = {"id": "messages", "name": "Messages"}


def _check(engine: SandboxEngine, feature_id: str = "messages", **extra: Any) -> Dict[str, Any]:
    answer = post(engine, CHECK, {"customer_id": "cus", "feature_id": feature_id, **extra})
    assert answer.status == 200, answer.json()
    result: Dict[str, Any] = answer.json()
    return result


def _track(engine: SandboxEngine, value: float) -> Dict[str, Any]:
    answer = post(engine, TRACK, {"customer_id": "cus", "feature_id": "messages", "value": value})
    assert answer.status == 200, answer.json()
    result: Dict[str, Any] = answer.json()
    return result


def test_check_no_feature_denies_with_a_null_balance() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "included": 1000}], attach=False)
    answer = _check(engine)
    assert (answer["allowed"], answer["required_balance"], answer["balance"]) == (False, 1, None)


def test_check_boolean_answers_a_flag_from_the_plan() -> None:
    engine = _engine(
        [{"id": "dashboard", "name": "Dashboard", "type": "boolean"}], [{"feature_id": "dashboard"}]
    )
    answer = _check(engine, "dashboard")
    assert (answer["allowed"], answer["balance"]) == (True, None)
    assert (answer["flag"]["plan_id"], answer["flag"]["feature_id"], answer["flag"]["expires_at"]) == (
        "free",
        "dashboard",
        None,
    )


def test_check_metered_shows_the_monthly_grant() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "included": 1000}])
    balance = _check(engine)["balance"]
    assert (balance["granted"], balance["remaining"], balance["usage"]) == (1000, 1000, 0)
    assert (balance["unlimited"], balance["overage_allowed"], balance["max_purchase"]) == (False, False, None)
    assert balance["breakdown"][0]["reset"]["interval"] == "month"
    assert balance["next_reset_at"] is not None


def test_check_unlimited_has_no_next_reset() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "unlimited": True}])
    answer = _check(engine)
    assert answer["allowed"] is True
    assert (answer["balance"]["unlimited"], answer["balance"]["next_reset_at"]) == (True, None)


def test_credit_systems3_falls_back_from_the_metered_feature_to_the_credit_system() -> None:
    engine = _engine(
        [
            {"id": "action1", "name": "Action 1"},
            {"id": "credits", "name": "Credits", "type": "credit_system", "credit_schema": {"action1": 0.2}},
        ],
        [{"feature_id": "action1", "included": 50}, {"feature_id": "credits", "included": 100}],
    )
    first = _check(engine, "action1", required_balance=25.5)
    assert (first["allowed"], first["balance"]["feature_id"], first["balance"]["remaining"]) == (
        True,
        "action1",
        50,
    )
    post(engine, TRACK, {"customer_id": "cus", "feature_id": "action1", "value": 50})
    after = _check(engine, "action1", required_balance=25.5)
    assert (after["allowed"], after["balance"]["feature_id"]) == (True, "credits")
    assert (after["required_balance"], after["balance"]["remaining"], after["balance"]["usage"]) == (
        5.1,
        100,
        0,
    )


def test_track_negative1_gives_usage_back_down_to_zero() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "included": 100}])
    assert _track(engine, 30)["balance"]["remaining"] == 70
    after_refund = _track(engine, -10)["balance"]
    assert (after_refund["remaining"], after_refund["usage"]) == (80, 20)
    after_large_refund = _track(engine, -50)["balance"]
    assert (after_large_refund["remaining"], after_large_refund["usage"]) == (100, 0)


def test_track_negative2_refunds_exactly_and_never_below_zero_usage() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "included": 100}])
    first = _track(engine, -37.89)["balance"]
    assert (first["granted"], first["remaining"], first["usage"]) == (100, 100, 0)
    _track(engine, 50)
    second = _track(engine, -37.89)["balance"]
    assert (second["remaining"], second["usage"]) == (87.89, 12.11)


def test_track_rollover2_keeps_the_newest_rollover_whole_under_the_cap() -> None:
    engine = _engine(
        [MESSAGES],
        [
            {
                "feature_id": "messages",
                "included": 400,
                "rollover": {"max": 500, "duration": "month", "length": 3},
            }
        ],
    )
    _track(engine, 250)  # 150 left to roll over
    engine.clock.advance(31 * 86_400)  # first reset: rollovers [150]
    engine.clock.advance(28 * 86_400)  # second reset, nothing used: 150 + 400 is over 500
    rollovers = _check(engine)["balance"]["rollovers"]
    assert [r["balance"] for r in rollovers] == [100, 400]


def test_check_send_event_credit_system_deducts_the_credit_cost() -> None:
    engine = _engine(
        [
            {"id": "action1", "name": "Action 1"},
            {"id": "credits", "name": "Credits", "type": "credit_system", "credit_schema": {"action1": 0.2}},
        ],
        [{"feature_id": "credits", "included": 100}],
    )
    answer = _check(engine, "action1", required_balance=10, send_event=True)
    assert (answer["allowed"], answer["required_balance"]) == (True, 2)
    assert (answer["balance"]["feature_id"], answer["balance"]["usage"]) == ("credits", 2)


BATCH = "/v1/balances.batch_track"


def _batch_engine() -> SandboxEngine:
    return _engine([MESSAGES], [{"feature_id": "messages", "included": 20}])


def _remaining(engine: SandboxEngine) -> float:
    balance = engine.balance("cus", "messages")
    assert balance is not None
    return float(balance["remaining"])


def _item(value: float, key: str | None = None) -> Dict[str, Any]:
    item: Dict[str, Any] = {"customer_id": "cus", "feature_id": "messages", "value": value}
    if key is not None:
        item["idempotency_key"] = key
    return item


def test_batch_track_items_of_the_same_customer_and_feature_all_deduct() -> None:
    engine = _batch_engine()
    assert post(engine, BATCH, [_item(5), _item(3)]).status == 202
    assert _remaining(engine) == 12


def test_batch_track_identical_items_without_keys_each_deduct() -> None:
    engine = _batch_engine()
    post(engine, BATCH, [_item(2)] * 3)
    assert _remaining(engine) == 14


def test_batch_track_a_duplicate_key_within_one_batch_deducts_once() -> None:
    engine = _batch_engine()
    post(engine, BATCH, [_item(3, "batch-k"), _item(3, "batch-k"), _item(2, "batch-l")])
    assert _remaining(engine) == 15


def test_batch_track_a_key_used_in_an_earlier_batch_is_dropped_and_the_rest_deduct() -> None:
    engine = _batch_engine()
    post(engine, BATCH, [_item(4, "batch-p")])
    assert _remaining(engine) == 16
    post(engine, BATCH, [_item(4, "batch-p"), _item(1, "batch-q")])
    assert _remaining(engine) == 15


def test_batch_track_a_key_counts_again_after_24_hours_and_expired_keys_are_forgotten() -> None:
    engine = _batch_engine()
    post(engine, BATCH, [_item(1, "batch-old")])
    engine.clock.advance(24 * 3600 - 1)
    post(engine, BATCH, [_item(1, "batch-old"), _item(1, "batch-new")])  # still within the day: skipped
    assert _remaining(engine) == 18
    engine.clock.advance(1)
    post(engine, BATCH, [_item(1, "batch-old")])  # a day after it was first seen: counted again
    assert _remaining(engine) == 17
    assert set(engine.batch_keys) == {"batch-new", "batch-old"}
    engine.clock.advance(24 * 3600)
    post(engine, BATCH, [_item(1, "batch-last")])
    assert set(engine.batch_keys) == {"batch-last"}  # memory stays bounded by a day of keys


def test_track_overage_overflow1_passes_the_grant_and_cap_mode_then_adds_nothing() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "included": 100}])
    body = {"customer_id": "cus", "feature_id": "messages", "value": 150, "overage_behavior": "overflow"}
    balance = post(engine, TRACK, body).json()["balance"]
    assert (balance["granted"], balance["remaining"], balance["usage"]) == (100, 0, 150)
    assert _check(engine)["allowed"] is False
    balance = _track(engine, 10)["balance"]
    assert (balance["remaining"], balance["usage"]) == (0, 150)


def test_track_overage_overflow4_a_negative_overflow_credits_above_the_grant() -> None:
    engine = _engine([MESSAGES], [{"feature_id": "messages", "included": 100}])
    _track(engine, 30)
    body = {"customer_id": "cus", "feature_id": "messages", "value": -50, "overage_behavior": "overflow"}
    balance = post(engine, TRACK, body).json()["balance"]
    assert (balance["granted"], balance["remaining"], balance["usage"]) == (100, 120, -20)


def test_track_overage_overflow8_track_tokens_with_overflow_deducts_the_full_cost() -> None:
    engine = _engine(
        [
            {
                "id": "ai_credits",
                "name": "AI credits",
                "type": "credit_system",
                "model_prices": {"custom/internal-model": {"input": 5, "output": 15}},
            }
        ],
        [{"feature_id": "ai_credits", "included": 0.1}],
    )
    body = {
        "customer_id": "cus",
        "feature_id": "ai_credits",
        "model_id": "custom/internal-model",
        "input_tokens": 10_000,
        "output_tokens": 5_000,
        "overage_behavior": "overflow",
    }
    balance = post(engine, "/v1/balances.track_tokens", body).json()["balance"]
    assert (balance["remaining"], balance["usage"]) == (0, 0.125)
