"""The Stainless client `autumn-python` 0.2.0 on the served sandbox: it posts to Autumn's older paths
`/v1/check` and `/v1/track` and pins API 2.0.0, whose balances name their amounts `granted_balance`,
`purchased_balance` and `current_balance`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import autumn
import pytest

from meterly.sandbox import DEFAULT_API_KEY


@pytest.fixture
def stainless(server_url: str) -> Iterator[Any]:
    client = autumn.Autumn(secret_key=DEFAULT_API_KEY, base_url=f"{server_url}/v1", max_retries=0)
    with client:
        yield client


def test_check_through_v1_check_parses_strictly(server_url: str) -> None:
    strict = autumn.Autumn(
        secret_key=DEFAULT_API_KEY,
        base_url=f"{server_url}/v1",
        max_retries=0,
        _strict_response_validation=True,
    )
    with strict:
        res = strict.check(customer_id="cus_pro", feature_id="messages")
    assert (res.allowed, res.customer_id) == (True, "cus_pro")
    assert res.balance is not None
    assert (res.balance.feature_id, res.balance.granted_balance) == ("messages", 100)
    assert res.balance.current_balance == 100 - res.balance.usage


def test_a_denied_check_parses(stainless: Any) -> None:
    res = stainless.check(customer_id="cus_free", feature_id="messages", required_balance=3)
    assert res.allowed is False
    assert res.balance is not None
    assert res.balance.current_balance == 2


def test_track_through_v1_track_records_and_parses_strictly(server_url: str) -> None:
    strict = autumn.Autumn(
        secret_key=DEFAULT_API_KEY,
        base_url=f"{server_url}/v1",
        max_retries=0,
        _strict_response_validation=True,
    )
    with strict:
        before = strict.check(customer_id="cus_pro", feature_id="api_calls").balance
        res = strict.track(customer_id="cus_pro", feature_id="api_calls", value=4)
        after = strict.check(customer_id="cus_pro", feature_id="api_calls").balance
    assert (res.customer_id, res.value) == ("cus_pro", 4)
    assert before is not None
    assert after is not None
    assert after.usage == before.usage + 4


def test_an_older_field_the_sandbox_does_not_emulate_is_a_400_naming_it(stainless: Any) -> None:
    with pytest.raises(autumn.BadRequestError) as caught:
        stainless.track(customer_id="cus_pro", feature_id="api_calls", customer_data={"name": "New"})
    assert "customer_data" in str(caught.value)
