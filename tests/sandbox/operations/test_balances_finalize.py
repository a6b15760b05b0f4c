"""Reservations: balances.check with `lock` holds the amount; balances.finalize confirms or releases it;
an unfinalized hold expires on the sandbox clock."""

from __future__ import annotations

from typing import Any, Dict, Optional

from meterly import Meterly
from meterly.sandbox import SandboxEngine

from ..conftest import CHECK, START_MS, post

FINALIZE = "/v1/balances.finalize"


def _lock(engine: SandboxEngine, lock_id: str, required: float = 4, **lock: Any) -> Dict[str, Any]:
    body = {
        "customer_id": "cus_basic",
        "feature_id": "messages",
        "required_balance": required,
        "lock": {"lock_id": lock_id, "enabled": True, **lock},
    }
    answer = post(engine, CHECK, body)
    assert answer.status == 200, answer.json()
    result: Dict[str, Any] = answer.json()
    return result


def _usage(engine: SandboxEngine) -> Optional[float]:
    balance = engine.balance("cus_basic", "messages")
    assert balance is not None
    return balance["usage"]


def test_an_allowed_lock_holds_the_amount_and_the_balance_shows_it(engine: SandboxEngine) -> None:
    answer = _lock(engine, "gen_1")
    assert answer["allowed"] is True
    assert answer["balance"]["remaining"] == 6
    assert "gen_1" in engine.holds


def test_confirm_keeps_the_hold_as_usage(engine: SandboxEngine) -> None:
    _lock(engine, "gen_1")
    answer = post(engine, FINALIZE, {"lock_id": "gen_1", "action": "confirm"})
    assert (answer.status, answer.json()) == (200, {"success": True})
    assert _usage(engine) == 4
    assert post(engine, FINALIZE, {"lock_id": "gen_1", "action": "confirm"}).status == 404  # once only


def test_confirm_with_an_override_records_what_was_really_used(engine: SandboxEngine) -> None:
    _lock(engine, "gen_1")
    post(engine, FINALIZE, {"lock_id": "gen_1", "action": "confirm", "override_value": 1.5})
    assert _usage(engine) == 1.5


def test_release_gives_the_hold_back(engine: SandboxEngine) -> None:
    _lock(engine, "gen_1")
    assert post(engine, FINALIZE, {"lock_id": "gen_1", "action": "release"}).status == 200
    assert _usage(engine) == 0


def test_an_unfinalized_hold_expires_on_the_sandbox_clock(engine: SandboxEngine) -> None:
    _lock(engine, "gen_1", expires_at=START_MS + 60_000)
    engine.clock.advance(59)
    assert _usage(engine) == 4
    engine.clock.advance(2)
    assert _usage(engine) == 0
    late = post(engine, FINALIZE, {"lock_id": "gen_1", "action": "confirm"})
    assert (late.status, late.json()["code"]) == (404, "lock_not_found")


def test_concurrent_holds_never_overspend(engine: SandboxEngine) -> None:
    assert _lock(engine, "a", required=6)["allowed"] is True
    refused = _lock(engine, "b", required=6)
    assert refused["allowed"] is False  # reject (the default) holds nothing
    assert set(engine.holds) == {"a"}


def test_cap_holds_what_is_left_and_overflow_holds_it_all(engine: SandboxEngine) -> None:
    assert _lock(engine, "cap", required=15, overage_behavior="cap")["allowed"] is True
    assert _usage(engine) == 10
    post(engine, FINALIZE, {"lock_id": "cap", "action": "release"})
    answer = _lock(engine, "over", required=15, overage_behavior="overflow")
    assert (answer["allowed"], answer["balance"]["usage"], answer["balance"]["remaining"]) == (True, 15, 0)


def test_lock_mistakes_are_refused_naming_the_field(engine: SandboxEngine) -> None:
    _lock(engine, "dup")
    again = post(
        engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages", "lock": {"lock_id": "dup"}}
    )
    assert again.status == 409
    with_event = post(
        engine,
        CHECK,
        {"customer_id": "cus_basic", "feature_id": "messages", "send_event": True, "lock": {"lock_id": "x"}},
    )
    assert (with_event.status, "lock" in with_event.json()["message"]) == (400, True)
    no_id = post(engine, CHECK, {"customer_id": "cus_basic", "feature_id": "messages", "lock": {}})
    assert (no_id.status, "lock.lock_id" in no_id.json()["message"]) == (400, True)
    past = post(
        engine,
        CHECK,
        {"customer_id": "cus_basic", "feature_id": "messages", "lock": {"lock_id": "p", "expires_at": 1}},
    )
    assert (past.status, "lock.expires_at" in past.json()["message"]) == (400, True)
    release = post(engine, FINALIZE, {"lock_id": "dup", "action": "release", "override_value": 1})
    assert (release.status, "override_value" in release.json()["message"]) == (400, True)
    assert post(engine, FINALIZE, {"lock_id": "dup", "action": "undo"}).status == 400


def test_the_sdk_sends_a_lock_on_check(client: Meterly, engine: SandboxEngine) -> None:
    res = client.balances.check(
        customer_id="cus_basic", feature_id="messages", required_balance=3, lock={"lock_id": "sdk_1"}
    )
    assert res.allowed is True
    assert engine.holds["sdk_1"].amount == 3
    assert engine.history[-1].body["lock"] == {"lock_id": "sdk_1", "enabled": True}
