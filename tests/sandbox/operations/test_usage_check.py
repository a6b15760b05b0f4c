"""usage.check semantics for the three consumption models, through the public SDK."""

from __future__ import annotations

import pytest

from meterly import AsyncMeterly, Meterly
from meterly.sandbox import SandboxEngine


def test_metered_model_reports_current_included_remaining_and_overage(client: Meterly) -> None:
    res = client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=4)
    assert res.allowed is True
    assert res.consumption_model == "metered"
    assert (res.feature_code, res.quantity) == ("api_calls", 4)
    assert (res.current, res.included, res.remaining, res.unlimited) == (0, 10, 10, False)
    assert res.overage_enabled is True
    assert res.overage_unit_price == pytest.approx(0.02)
    assert (res.object, res.livemode) == ("usage_check", False)
    assert res.reason is None


def test_metered_model_denies_past_the_included_amount(client: Meterly, engine: SandboxEngine) -> None:
    engine.track("cus_basic", "messages", 8)
    res = client.usage.check(customer_id="cus_basic", feature_code="messages", quantity=3)
    assert res.allowed is False
    assert res.reason == "included_limit_reached"
    assert res.message
    assert (res.current, res.remaining) == (8, 2)
    assert client.usage.check(customer_id="cus_basic", feature_code="messages", quantity=2).allowed


def test_metered_model_with_overage_allows_beyond_the_included_amount(client: Meterly) -> None:
    assert client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=15).allowed
    denied = client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=16)
    assert (denied.allowed, denied.reason) == (False, "included_limit_reached")


def test_credits_model_estimates_credits_per_unit(client: Meterly) -> None:
    res = client.usage.check(customer_id="cus_pro", feature_code="image", quantity=3)
    assert res.allowed is True
    assert res.consumption_model == "credits"
    assert (res.credits_per_unit, res.estimated_credits) == (5, 15)
    assert (res.plan_credits, res.purchased_credits, res.total_credits) == (20, 0, 20)


def test_credits_model_counts_purchased_credits_and_denies_when_short(
    client: Meterly, engine: SandboxEngine
) -> None:
    engine.grant("cus_pro", "credits", 7)
    ok = client.usage.check(customer_id="cus_pro", feature_code="image", quantity=5)
    assert (ok.allowed, ok.plan_credits, ok.purchased_credits, ok.total_credits) == (True, 20, 7, 27)
    denied = client.usage.check(customer_id="cus_pro", feature_code="image", quantity=6)
    assert (denied.allowed, denied.reason, denied.estimated_credits) == (False, "insufficient_credits", 30)


def test_balance_model_estimates_the_amount_against_the_balance(client: Meterly) -> None:
    res = client.usage.check(customer_id="cus_wallet", feature_code="sms", quantity=10)
    assert res.allowed is True
    assert res.consumption_model == "balance"
    assert (res.unit_price, res.estimated_amount, res.current_balance) == (0.1, 1, 1)
    assert (res.currency, res.block_on_exhaustion) == ("eur", True)
    denied = client.usage.check(customer_id="cus_wallet", feature_code="sms", quantity=11)
    assert (denied.allowed, denied.reason) == (False, "insufficient_balance")
    assert denied.estimated_amount == pytest.approx(1.1)


def test_money_adds_up_exactly(client: Meterly, engine: SandboxEngine) -> None:
    for _ in range(10):  # ten times 0.1 is exactly the 1.0 on the wallet
        assert client.balances.check(customer_id="cus_wallet", feature_id="sms", send_event=True).allowed
    res = client.usage.check(customer_id="cus_wallet", feature_code="sms", quantity=1)
    assert (res.allowed, res.current_balance) == (False, 0)


def test_usage_check_never_consumes(client: Meterly, engine: SandboxEngine) -> None:
    for _ in range(3):
        client.usage.check(customer_id="cus_basic", feature_code="messages", quantity=10)
    assert engine.balance("cus_basic", "messages")["usage"] == 0  # type: ignore[index]


def test_a_feature_outside_the_plan_is_denied_as_not_included(client: Meterly) -> None:
    res = client.usage.check(customer_id="cus_basic", feature_code="api_calls", quantity=1)
    assert (res.allowed, res.reason) == (False, "feature_not_included")
    flag = client.usage.check(customer_id="cus_pro", feature_code="sso", quantity=1)
    assert flag.allowed is True


async def test_async_usage_check(aclient: AsyncMeterly) -> None:
    res = await aclient.usage.check(customer_id="cus_pro", feature_code="chat", quantity=20)
    assert (res.allowed, res.consumption_model, res.estimated_credits) == (True, "credits", 20)
