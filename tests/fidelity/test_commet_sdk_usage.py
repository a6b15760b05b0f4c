"""Commet's own client (commet-sdk 9.7.0) through the rest of its usage and feature-access calls on the
served sandbox: a check without quantity, a track past a hard limit, AI token usage, `usage.set`,
`feature_access.get` and `feature_access.list`; each answer carries every field commet-sdk's types
require."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Set, cast

import commet
import pytest
from commet import types as commet_types

from meterly.sandbox import Sandbox, SandboxEngine

from .conftest import commet_client


def _required(variant: Any) -> Set[str]:
    return {field.name for field in dataclasses.fields(variant) if field.metadata["required"]}


def _data(result: Any) -> Dict[str, Any]:
    """commet-sdk 9.7.0 returns plain dicts (snake_case keys) or dataclasses, depending on the call."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    assert isinstance(result, dict)
    return cast(Dict[str, Any], result)


ACCESS_VARIANTS = {
    "boolean": commet_types.FeatureAccessVariant1,
    "usage": commet_types.FeatureAccessVariant2,
}
CONSUMPTION_VARIANTS = {
    "metered": commet_types.FeatureAccessVariant2ConsumptionVariant1,
    "credits": commet_types.FeatureAccessVariant2ConsumptionVariant2,
    "balance": commet_types.FeatureAccessVariant2ConsumptionVariant3,
}


def _assert_complete_access(access: Dict[str, Any]) -> None:
    assert _required(ACCESS_VARIANTS[access["type"]]) - set(access) == set()
    if access["type"] == "usage":
        consumption = _data(access["consumption"])
        assert _required(CONSUMPTION_VARIANTS[consumption["model"]]) - set(consumption) == set()


def test_a_check_without_quantity_asks_for_one_unit(commet_sdk: Any) -> None:
    data = _data(commet_sdk.usage.check(customer_id="cus_pro", feature_code="api_calls"))
    assert (data["quantity"], data["allowed"]) == (1, True)


def test_a_track_past_a_hard_limit_is_refused_and_records_nothing() -> None:
    engine = SandboxEngine.demo()
    with (
        Sandbox(engine) as sandbox,
        commet_client(sandbox.url) as client,
        pytest.raises(commet.CommetAPIError) as caught,
    ):
        client.usage.track(customer_id="cus_free", feature_code="messages", value=3)
    assert (caught.value.status_code, caught.value.code) == (402, "included_limit_reached")
    assert engine.balance("cus_free", "messages")["usage"] == 3  # type: ignore[index]


def test_ai_token_usage_is_priced_per_model_in_credits() -> None:
    engine = SandboxEngine.demo()
    with Sandbox(engine) as sandbox, commet_client(sandbox.url) as client:
        event = _data(
            client.usage.track(
                customer_id="cus_pro",
                feature_code="chat",
                model="openai/gpt-4o-mini",
                input_tokens=10_000,
                output_tokens=1_000,
                cache_read_tokens=2_000,
            )
        )
    assert _required(commet_types.UsageEvent) - set(event) == set()
    assert event["value"] == pytest.approx(2.25)  # 10k x 150/M + 1k x 600/M + 2k x 75/M
    consumption = _data(event["consumption"])
    assert (consumption["model"], consumption["deducted"]) == ("credits", pytest.approx(2.25))
    assert engine.balance("cus_pro", "ai_credits")["usage"] == pytest.approx(480 + 2.25)  # type: ignore[index]


def test_tokens_of_an_unknown_model_are_a_404_model_not_found(commet_sdk: Any) -> None:
    with pytest.raises(commet.CommetAPIError) as caught:
        commet_sdk.usage.track(
            customer_id="cus_pro", feature_code="chat", model="acme/none", input_tokens=1, output_tokens=1
        )
    assert (caught.value.status_code, caught.value.code) == (404, "model_not_found")


def test_usage_set_sets_the_periods_usage_and_answers_the_adjustment() -> None:
    engine = SandboxEngine.demo()
    with Sandbox(engine) as sandbox, commet_client(sandbox.url) as client:
        adjustment = _data(
            client.usage.set(customer_id="cus_pro", feature_code="api_calls", value=1200, reason="import")
        )
    assert _required(commet_types.UsageAdjustment) - set(adjustment) == set()
    assert (adjustment["previous_value"], adjustment["value"], adjustment["adjustment"]) == (990, 1200, 210)
    assert engine.balance("cus_pro", "api_calls")["usage"] == 1200  # type: ignore[index]


def test_usage_set_is_idempotent_by_key(commet_sdk: Any) -> None:
    first = _data(
        commet_sdk.usage.set(
            customer_id="cus_pro", feature_code="api_calls", value=10, idempotency_key="set-1"
        )
    )
    again = _data(
        commet_sdk.usage.set(
            customer_id="cus_pro", feature_code="api_calls", value=10, idempotency_key="set-1"
        )
    )
    assert again == first


@pytest.mark.parametrize(
    ("customer_id", "code", "kind", "allowed"),
    [
        ("cus_pro", "sso", "boolean", True),
        ("cus_free", "sso", "boolean", False),
        ("cus_pro", "api_calls", "usage", True),
        ("cus_pro", "image", "usage", True),
        ("cus_wallet", "sms", "usage", True),
        ("cus_free", "api_calls", "usage", False),
    ],
)
def test_feature_access_get_answers_every_field_of_its_variant(
    commet_sdk: Any, customer_id: str, code: str, kind: str, allowed: bool
) -> None:
    access = _data(commet_sdk.feature_access.get(code, customer_id=customer_id))
    assert (access["code"], access["type"], access["allowed"]) == (code, kind, allowed)
    assert (access["object"], access["livemode"]) == ("feature_access", False)
    _assert_complete_access(access)


def test_feature_access_list_answers_every_feature(commet_sdk: Any) -> None:
    listed = _data(commet_sdk.feature_access.list(customer_id="cus_pro"))
    assert _required(commet_types.FeatureAccessListResult) - set(listed) == set()
    items = [_data(item) for item in listed["data"]]
    assert {item["code"] for item in items} >= {"messages", "api_calls", "sso", "ai_credits"}
    for item in items:
        _assert_complete_access(item)


def test_feature_access_of_an_unknown_customer_is_a_404(commet_sdk: Any) -> None:
    with pytest.raises(commet.CommetAPIError) as caught:
        commet_sdk.feature_access.get("sso", customer_id="cus_nobody")
    assert (caught.value.status_code, caught.value.code) == (404, "customer_not_found")
