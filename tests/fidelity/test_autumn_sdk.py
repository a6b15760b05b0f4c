"""Autumn's own client (autumn-sdk 1.2.0) accepts every answer of the served sandbox and types its errors."""

from __future__ import annotations

from typing import Any

import pytest
from autumn_sdk import errors as autumn_errors

from meterly.sandbox import Sandbox

from .conftest import autumn_client


def test_an_allowed_metered_check_parses(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_pro", feature_id="messages")
    assert res.allowed is True
    assert res.flag is None  # metered features answer flag: null
    assert res.balance is not None
    assert (res.balance.feature_id, res.balance.granted) == ("messages", 100)
    assert res.required_balance == 1


def test_a_denied_check_parses(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_free", feature_id="messages", required_balance=3)
    assert res.allowed is False
    assert res.balance is not None
    assert res.balance.remaining == 2
    assert res.preview is None


def _assert_complete_products(products: Any) -> None:
    assert products, "a paywall offers at least one product"
    for product in products:
        assert product.env == "sandbox"
        assert product.version == 1
        assert product.free_trial is None
        assert product.items, product.id


def test_a_usage_limit_paywall_preview_parses(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_free", feature_id="messages", required_balance=3, with_preview=True)
    assert res.allowed is False
    assert res.preview is not None
    assert res.preview.scenario == "usage_limit"
    assert {product.id for product in res.preview.products} == {"pro", "team"}
    _assert_complete_products(res.preview.products)


def test_a_feature_flag_paywall_preview_parses(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_free", feature_id="sso", with_preview=True)
    assert res.allowed is False
    assert res.flag is None
    assert res.preview is not None
    assert res.preview.scenario == "feature_flag"
    _assert_complete_products(res.preview.products)
    items = [item for product in res.preview.products for item in product.items]
    assert any(item.feature_id == "sso" and item.feature_type == "boolean" for item in items)


def test_a_boolean_feature_answers_with_its_flag(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_pro", feature_id="sso")
    assert res.allowed is True
    assert res.balance is None
    assert res.flag is not None
    assert (res.flag.feature_id, res.flag.plan_id, res.flag.expires_at) == ("sso", "pro", None)
    assert res.flag.id.startswith("cus_ent_")


def test_an_entity_scoped_check_parses(autumn: Any) -> None:
    alice = autumn.check(
        customer_id="cus_team", feature_id="messages", entity_id="seat_alice", required_balance=2
    )
    bob = autumn.check(
        customer_id="cus_team", feature_id="messages", entity_id="seat_bob", required_balance=2
    )
    assert (alice.allowed, alice.entity_id) == (False, "seat_alice")
    assert (bob.allowed, bob.entity_id) == (True, "seat_bob")


def test_send_event_records_usage_of_the_credit_system(autumn: Any) -> None:
    before = autumn.check(customer_id="cus_pro", feature_id="ai_credits").balance.usage
    res = autumn.check(customer_id="cus_pro", feature_id="chat", required_balance=5, send_event=True)
    assert res.allowed is True
    after = autumn.check(customer_id="cus_pro", feature_id="ai_credits").balance.usage
    assert after == before + 5


def test_an_action_priced_by_a_credit_system_answers_in_credits(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_pro", feature_id="image", required_balance=2)
    assert res.allowed is True
    assert res.required_balance == 20  # 2 images at 10 credits each
    assert res.balance is not None
    assert res.balance.feature_id == "ai_credits"
    assert res.balances is not None
    assert set(res.balances) == {"ai_credits"}


def test_a_money_balance_answers_in_its_currency(autumn: Any) -> None:
    res = autumn.check(customer_id="cus_wallet", feature_id="sms", required_balance=3)
    assert res.allowed is True
    assert res.required_balance == pytest.approx(0.15)
    assert res.balance is not None
    assert res.balance.feature_id == "wallet"


FRACTIONAL_SEED = {
    "features": [
        {"id": "action1", "type": "metered"},
        {"id": "action2", "type": "metered"},
        {"id": "credits", "type": "credit_system", "credit_schema": {"action1": 0.2, "action2": 0.6}},
    ],
    "plans": [{"id": "pro", "features": [{"feature_id": "credits", "included": 100, "interval": "month"}]}],
    "customers": [{"id": "cus_credits", "plans": ["pro"]}],
}
"""The credit system of Autumn's own server tests: actions priced at 0.2 and 0.6 credits a unit."""


def test_fractional_credit_costs_convert_the_required_balance_to_credits() -> None:
    with Sandbox(seed=FRACTIONAL_SEED) as sandbox, autumn_client(sandbox.url) as autumn:
        cheap = autumn.check(customer_id="cus_credits", feature_id="action1", required_balance=50.75)
        dear = autumn.check(customer_id="cus_credits", feature_id="action2", required_balance=167.33)
    assert (cheap.allowed, cheap.required_balance) == (True, pytest.approx(10.15))
    assert cheap.balance.feature_id == "credits"
    assert cheap.balance.remaining == 100
    assert (dear.allowed, dear.required_balance) == (False, pytest.approx(100.398))


def test_an_unknown_customer_is_a_404_customer_not_found(autumn: Any) -> None:
    with pytest.raises(autumn_errors.AutumnDefaultError) as caught:
        autumn.check(customer_id="cus_nobody", feature_id="messages")
    assert caught.value.status_code == 404
    assert '"code":"customer_not_found"' in caught.value.body


def test_a_bad_key_is_a_401(server_url: str) -> None:
    with (
        autumn_client(server_url, secret_key="am_sk_wrong") as autumn,
        pytest.raises(autumn_errors.AutumnDefaultError) as caught,
    ):
        autumn.check(customer_id="cus_pro", feature_id="messages")
    assert caught.value.status_code == 401
    assert '"code":"invalid_secret_key"' in caught.value.body
