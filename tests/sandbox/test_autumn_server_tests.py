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
