"""balances.check semantics, through the public SDK on a SandboxTransport."""

from __future__ import annotations

import datetime
import threading

import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly.sandbox import SandboxEngine

from ..conftest import START_MS

DAY = 86_400


def utc(ms: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)


def test_metered_balance_shows_granted_usage_remaining_and_its_breakdown(client: Meterly) -> None:
    res = client.balances.check(customer_id="cus_basic", feature_id="messages")
    assert res.allowed is True
    assert res.customer_id == "cus_basic"
    assert res.required_balance == 1
    balance = res.balance
    assert balance is not None
    assert (balance.feature_id, balance.granted, balance.usage, balance.remaining) == ("messages", 10, 0, 10)
    assert (balance.unlimited, balance.overage_allowed, balance.max_purchase) == (False, False, None)
    assert balance.breakdown is not None
    (entry,) = balance.breakdown
    assert (entry.plan_id, entry.included_grant, entry.prepaid_grant, entry.remaining) == ("basic", 10, 0, 10)
    assert entry.reset is not None
    assert entry.reset.interval == "month"
    assert entry.reset.resets_at == balance.next_reset_at
    assert utc(balance.next_reset_at or 0) == datetime.datetime(2026, 2, 1, tzinfo=datetime.timezone.utc)


def test_required_balance_defaults_to_one(client: Meterly, engine: SandboxEngine) -> None:
    engine.track("cus_basic", "messages", 9)
    assert client.balances.check(customer_id="cus_basic", feature_id="messages").allowed is True
    engine.track("cus_basic", "messages", 1)
    assert client.balances.check(customer_id="cus_basic", feature_id="messages").allowed is False


def test_required_balance_above_remaining_is_denied(client: Meterly) -> None:
    res = client.balances.check(customer_id="cus_basic", feature_id="messages", required_balance=11)
    assert res.allowed is False
    assert res.required_balance == 11
    assert client.balances.check(customer_id="cus_basic", feature_id="messages", required_balance=10).allowed


def test_send_event_deducts_required_balance_when_allowed(client: Meterly) -> None:
    res = client.balances.check(
        customer_id="cus_basic", feature_id="messages", required_balance=4, send_event=True
    )
    assert res.allowed is True
    assert res.balance is not None
    assert (res.balance.usage, res.balance.remaining) == (4, 6)


def test_send_event_records_nothing_when_denied(client: Meterly, engine: SandboxEngine) -> None:
    res = client.balances.check(
        customer_id="cus_basic", feature_id="messages", required_balance=50, send_event=True
    )
    assert res.allowed is False
    assert engine.balance("cus_basic", "messages") is not None
    assert engine.balance("cus_basic", "messages")["usage"] == 0  # type: ignore[index]


def test_send_event_consumes_until_denied_with_a_usage_limit_preview(client: Meterly) -> None:
    answers = [
        client.balances.check(
            customer_id="cus_basic", feature_id="messages", send_event=True, with_preview=True
        )
        for _ in range(11)
    ]
    assert [a.allowed for a in answers] == [True] * 10 + [False]
    assert all(a.preview is None for a in answers[:10])
    preview = answers[10].preview
    assert preview is not None
    assert preview.scenario == "usage_limit"
    assert (preview.feature_id, preview.feature_name) == ("messages", "Messages")
    # Upgrades offered: plans giving the feature that the customer is not on yet.
    assert [p.id for p in preview.products] == ["pro", "seats"]
    assert preview.title
    assert preview.message


def test_denial_without_with_preview_has_no_preview(client: Meterly, engine: SandboxEngine) -> None:
    engine.track("cus_basic", "messages", 10)
    res = client.balances.check(customer_id="cus_basic", feature_id="messages")
    assert res.allowed is False
    assert res.preview is None


def test_boolean_feature_is_allowed_when_a_plan_includes_it_with_a_null_balance(client: Meterly) -> None:
    res = client.balances.check(customer_id="cus_pro", feature_id="sso")
    assert res.allowed is True
    assert res.balance is None


def test_missing_boolean_feature_is_denied_with_a_feature_flag_preview(client: Meterly) -> None:
    res = client.balances.check(customer_id="cus_basic", feature_id="sso", with_preview=True)
    assert res.allowed is False
    assert res.balance is None
    assert res.preview is not None
    assert res.preview.scenario == "feature_flag"
    assert [p.id for p in res.preview.products] == ["pro", "enterprise"]


def test_metered_feature_outside_every_plan_is_denied_with_a_null_balance(client: Meterly) -> None:
    res = client.balances.check(customer_id="cus_basic", feature_id="api_calls", with_preview=True)
    assert (res.allowed, res.balance) == (False, None)
    assert res.preview is not None
    assert res.preview.scenario == "feature_flag"


def test_unlimited_feature_is_always_allowed_and_still_counts_usage(client: Meterly) -> None:
    res = client.balances.check(
        customer_id="cus_pro", feature_id="exports", required_balance=1e9, send_event=True
    )
    assert res.allowed is True
    assert res.balance is not None
    assert res.balance.unlimited is True
    assert res.balance.usage == 1e9


def test_overage_is_allowed_up_to_max_purchase(client: Meterly) -> None:
    first = client.balances.check(
        customer_id="cus_pro", feature_id="api_calls", required_balance=14, send_event=True
    )
    assert first.allowed is True
    assert first.balance is not None
    assert first.balance.overage_allowed is True
    assert first.balance.max_purchase == 5
    assert (first.balance.usage, first.balance.remaining) == (14, 0)
    assert client.balances.check(customer_id="cus_pro", feature_id="api_calls", required_balance=1).allowed
    assert not client.balances.check(
        customer_id="cus_pro", feature_id="api_calls", required_balance=2
    ).allowed
    assert first.balance.breakdown is not None
    price = first.balance.breakdown[0].price
    assert price is not None
    assert (price.amount, price.billing_units, price.max_purchase) == (2, 100, 5)


def test_usage_resets_when_the_clock_passes_next_reset_at(client: Meterly, engine: SandboxEngine) -> None:
    engine.track("cus_basic", "messages", 10)
    assert not client.balances.check(customer_id="cus_basic", feature_id="messages").allowed
    engine.clock.advance(30 * DAY)  # Jan 31: still in January's cycle
    assert not client.balances.check(customer_id="cus_basic", feature_id="messages").allowed
    engine.clock.advance(1 * DAY)  # Feb 1: the reset is due
    res = client.balances.check(customer_id="cus_basic", feature_id="messages")
    assert res.allowed is True
    assert res.balance is not None
    assert (res.balance.usage, res.balance.remaining) == (0, 10)
    assert utc(res.balance.next_reset_at or 0) == datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)


def test_a_long_clock_jump_applies_every_missed_reset(engine: SandboxEngine) -> None:
    engine.track("cus_basic", "messages", 7)
    engine.clock.advance(3 * 365 * DAY)
    balance = engine.balance("cus_basic", "messages")
    assert balance is not None
    assert balance["usage"] == 0
    assert balance["next_reset_at"] > engine.clock.now_ms()
    assert utc(balance["next_reset_at"]).day == 1


def test_unused_balance_rolls_over_capped_used_first_and_expiring(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.track("cus_pro", "messages", 90)  # 10 left at the reset
    engine.clock.advance(31 * DAY)  # Feb 1
    balance = client.balances.check(customer_id="cus_pro", feature_id="messages").balance
    assert balance is not None
    assert balance.rollovers is not None
    assert [(r.balance, r.granted) for r in balance.rollovers] == [(10, 10)]
    assert balance.remaining == 110
    # Rollovers are used before the plan's grant.
    after = client.balances.check(
        customer_id="cus_pro", feature_id="messages", required_balance=4, send_event=True
    )
    assert after.balance is not None
    assert after.balance.rollovers is not None
    assert after.balance.rollovers[0].balance == 6
    assert after.balance.usage == 0
    # March 1: February's rollover expires (one month after it was made); February's unused 100 would
    # roll over, but the total is capped at 30.
    engine.clock.advance(28 * DAY)
    march = engine.balance("cus_pro", "messages")
    assert march is not None
    assert [(r["balance"], r["granted"]) for r in march["rollovers"]] == [(30, 30)]
    assert utc(march["rollovers"][0]["expires_at"]) == datetime.datetime(
        2026, 4, 1, tzinfo=datetime.timezone.utc
    )
    assert march["remaining"] == 130


def test_each_entity_has_its_own_balance(client: Meterly) -> None:
    for _ in range(3):
        assert client.balances.check(
            customer_id="cus_team", feature_id="messages", entity_id="seat_a", send_event=True
        ).allowed
    seat_a = client.balances.check(customer_id="cus_team", feature_id="messages", entity_id="seat_a")
    seat_b = client.balances.check(customer_id="cus_team", feature_id="messages", entity_id="seat_b")
    assert (seat_a.allowed, seat_a.entity_id) == (False, "seat_a")
    assert seat_b.allowed is True
    assert seat_b.balance is not None
    assert seat_b.balance.remaining == 3
    whole = client.balances.check(customer_id="cus_team", feature_id="messages")
    assert whole.balance is not None
    assert (whole.balance.granted, whole.balance.usage) == (6, 3)


def test_an_entity_added_later_gets_its_per_entity_balance(client: Meterly, engine: SandboxEngine) -> None:
    engine.add_entity("cus_team", "seat_c")
    res = client.balances.check(customer_id="cus_team", feature_id="messages", entity_id="seat_c")
    assert res.balance is not None
    assert res.balance.granted == 3


def test_a_feature_priced_in_credits_draws_on_the_credit_system(client: Meterly) -> None:
    res = client.balances.check(
        customer_id="cus_pro", feature_id="image", required_balance=2, send_event=True
    )
    assert res.allowed is True
    assert res.balance is not None
    assert res.balance.feature_id == "credits"
    assert (res.balance.usage, res.balance.remaining) == (10, 10)
    assert not client.balances.check(customer_id="cus_pro", feature_id="image", required_balance=3).allowed
    assert client.balances.check(customer_id="cus_pro", feature_id="chat", required_balance=10).allowed


def test_prepaid_grants_are_used_after_the_plan_grant_that_resets(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.grant("cus_basic", "messages", 5)
    res = client.balances.check(
        customer_id="cus_basic", feature_id="messages", required_balance=12, send_event=True
    )
    assert res.balance is not None
    breakdown = {b.plan_id: (b.usage, b.remaining) for b in res.balance.breakdown or []}
    assert breakdown == {"basic": (10, 0), None: (2, 3)}
    assert res.balance.granted == 15


def test_a_negative_required_balance_with_send_event_gives_usage_back(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.track("cus_basic", "messages", 6)
    res = client.balances.check(
        customer_id="cus_basic", feature_id="messages", required_balance=-4, send_event=True
    )
    assert res.balance is not None
    assert res.balance.usage == 2


def test_properties_fill_in_a_missing_name(client: Meterly, engine: SandboxEngine) -> None:
    client.balances.check(customer_id="cus_basic", feature_id="messages", properties={"name": "Ada"})
    assert engine.customers["cus_basic"].name == "Ada"


def test_concurrent_send_events_never_overspend(engine: SandboxEngine, client: Meterly) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(5):
            res = client.balances.check(customer_id="cus_basic", feature_id="messages", send_event=True)
            with lock:
                results.append(res.allowed)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 10
    assert engine.balance("cus_basic", "messages")["usage"] == 10  # type: ignore[index]


async def test_async_client_sees_the_same_state(aclient: AsyncMeterly, engine: SandboxEngine) -> None:
    res = await aclient.balances.check(customer_id="cus_basic", feature_id="messages", send_event=True)
    assert res.allowed is True
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_clock_starts_where_the_seed_says(engine: SandboxEngine) -> None:
    assert engine.clock.now_ms() == START_MS
    assert engine.clock.frozen


def test_send_event_without_entity_id_on_a_per_seat_feature_is_refused(
    client: Meterly, engine: SandboxEngine
) -> None:
    with pytest.raises(errors.BadRequestError) as refused:
        client.balances.check(customer_id="cus_team", feature_id="messages", send_event=True)
    assert (refused.value.status_code, refused.value.code) == (400, "invalid_inputs")
    assert "pass entity_id" in refused.value.message
    seats = [e for e in engine.customers["cus_team"].entries if e.entity_id is not None]
    assert [seat.usage for seat in seats] == [0, 0]  # no seat was charged


def test_a_check_without_entity_id_and_without_send_event_shows_every_seat(client: Meterly) -> None:
    res = client.balances.check(customer_id="cus_team", feature_id="messages")
    assert res.allowed is True
    assert res.balance is not None
    assert res.balance.granted == 6


def test_send_event_without_entity_id_charges_the_customers_shared_balance(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.grant("cus_team", "messages", 10)  # a customer-level top-up beside the seats
    res = client.balances.check(customer_id="cus_team", feature_id="messages", send_event=True)
    assert res.allowed is True
    assert res.balance is not None
    assert (res.balance.granted, res.balance.usage) == (10, 1)
    seats = [e for e in engine.customers["cus_team"].entries if e.entity_id is not None]
    assert len(seats) == 2
    assert all(seat.usage == 0 for seat in seats)


def test_engine_track_without_entity_id_on_a_per_seat_feature_is_refused(engine: SandboxEngine) -> None:
    with pytest.raises(ValueError, match="pass entity_id"):
        engine.track("cus_team", "messages", 1)
