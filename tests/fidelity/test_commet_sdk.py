"""Commet's own client (commet-sdk 9.7.0) gets every field its types require, and its typed errors."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Set

import commet
import pytest
from commet import types as commet_types

from .conftest import commet_client

VARIANTS = {
    "metered": commet_types.UsageCheckVariant1,
    "credits": commet_types.UsageCheckVariant2,
    "balance": commet_types.UsageCheckVariant3,
}
"""commet-sdk's generated `UsageCheck` variants, by `consumptionModel`."""


def _required(variant: Any) -> Set[str]:
    """The fields a variant marks required, read from commet-sdk itself."""
    return {field.name for field in dataclasses.fields(variant) if field.metadata["required"]}


def _data(result: Any) -> Dict[str, Any]:
    # commet-sdk 9.7.0 returns a plain dict (snake_case keys) where its types promise a dataclass.
    return dataclasses.asdict(result) if dataclasses.is_dataclass(result) else dict(result)


def test_the_variants_require_what_upstream_says() -> None:
    assert {"allowed", "subscription_status", "feature_code", "quantity", "consumption_model"} <= _required(
        commet_types.UsageCheckVariant1
    )
    assert "overage_unit_price" in _required(commet_types.UsageCheckVariant1)
    assert "total_credits" in _required(commet_types.UsageCheckVariant2)
    assert "block_on_exhaustion" in _required(commet_types.UsageCheckVariant3)


@pytest.mark.parametrize(
    ("customer_id", "feature_code", "model"),
    [
        ("cus_pro", "api_calls", "metered"),
        ("cus_pro", "image", "credits"),
        ("cus_wallet", "sms", "balance"),
        ("cus_pro", "sso", "metered"),  # a boolean feature answers in the metered variant
    ],
)
def test_each_consumption_model_answers_every_field_its_variant_requires(
    commet_sdk: Any, customer_id: str, feature_code: str, model: str
) -> None:
    data = _data(commet_sdk.usage.check(customer_id=customer_id, feature_code=feature_code, quantity=3))
    assert data["consumption_model"] == model
    assert data["allowed"] is True
    assert data["subscription_status"] == "active"
    assert (data["object"], data["livemode"]) == ("usage_check", False)
    missing = _required(VARIANTS[model]) - set(data)
    assert missing == set()


def test_a_metered_feature_without_an_overage_price_answers_null(commet_sdk: Any) -> None:
    data = _data(commet_sdk.usage.check(customer_id="cus_pro", feature_code="messages", quantity=1))
    assert data["overage_unit_price"] is None


@pytest.mark.parametrize(
    ("customer_id", "feature_code", "quantity", "reason"),
    [
        ("cus_free", "messages", 10, "included_limit_reached"),
        ("cus_pro", "image", 500, "insufficient_credits"),
        ("cus_wallet", "sms", 1000, "insufficient_balance"),
    ],
)
def test_a_denial_answers_its_reason(
    commet_sdk: Any, customer_id: str, feature_code: str, quantity: int, reason: str
) -> None:
    data = _data(
        commet_sdk.usage.check(customer_id=customer_id, feature_code=feature_code, quantity=quantity)
    )
    assert (data["allowed"], data["reason"]) == (False, reason)
    assert _required(VARIANTS[data["consumption_model"]]) - set(data) == set()


def test_an_unknown_customer_is_a_404_customer_not_found(commet_sdk: Any) -> None:
    with pytest.raises(commet.CommetAPIError) as caught:
        commet_sdk.usage.check(customer_id="cus_nobody", feature_code="api_calls", quantity=1)
    assert (caught.value.status_code, caught.value.code) == (404, "customer_not_found")
    assert caught.value.request_id is not None


def test_a_bad_key_is_a_401(server_url: str) -> None:
    with (
        commet_client(server_url, api_key="ck_wrong") as client,
        pytest.raises(commet.CommetAPIError) as caught,
    ):
        client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=1)
    assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")


def test_a_request_that_fails_validation_is_a_commet_validation_error(commet_sdk: Any) -> None:
    with pytest.raises(commet.CommetValidationError) as caught:
        commet_sdk.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=0)
    error = caught.value
    assert error.status_code == 400
    assert error.param == "quantity"
    assert list(error.validation_errors) == ["quantity"]
    assert error.details == [{"field": "quantity", "message": error.validation_errors["quantity"][0]}]
