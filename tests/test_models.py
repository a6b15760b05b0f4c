"""Models: JSON names, absent vs null, unknown fields, open enums, the UNSET vocabulary."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pydantic
import pytest

from meterly import UNSET, models
from meterly.types import Unset

from .conftest import BALANCE, CHECK_BODY, USAGE_BODY


def test_check_response_parses_the_seed_example() -> None:
    res = models.CheckResponse.model_validate(CHECK_BODY)
    assert res.allowed is True
    assert res.customer_id == "cus_123"
    assert res.balance is not None
    assert res.balance.remaining == 72
    assert res.balance.max_purchase is None
    assert res.balance.breakdown is not None
    entry = res.balance.breakdown[0]
    assert entry.plan_id == "pro_plan"
    assert entry.reset is not None
    assert entry.reset.interval == "month"
    assert entry.reset.resets_at == 1773851121437
    assert entry.price is None


def test_absent_optional_nullable_field_is_unset_and_stays_absent() -> None:
    res = models.CheckResponse.model_validate(CHECK_BODY)
    assert res.entity_id is UNSET
    assert not res.entity_id
    dumped = res.model_dump(by_alias=True)
    assert "entity_id" not in dumped
    assert "required_balance" not in dumped
    assert "preview" not in dumped


def test_null_optional_nullable_field_is_none_and_stays_null() -> None:
    res = models.CheckResponse.model_validate({**CHECK_BODY, "entity_id": None})
    assert res.entity_id is None
    assert res.model_dump(by_alias=True)["entity_id"] is None
    assert json.loads(res.model_dump_json(by_alias=True))["entity_id"] is None


def test_required_nullable_field_must_be_present() -> None:
    body = {k: v for k, v in CHECK_BODY.items() if k != "balance"}
    with pytest.raises(pydantic.ValidationError, match="balance"):
        models.CheckResponse.model_validate(body)


def test_round_trip_gives_back_the_same_json() -> None:
    body = {**CHECK_BODY, "entity_id": None, "required_balance": 2.5}
    res = models.CheckResponse.model_validate_json(json.dumps(body))
    assert res.model_dump(by_alias=True, mode="json") == body
    assert json.loads(res.model_dump_json(by_alias=True)) == body


def test_unknown_fields_are_kept_at_every_level() -> None:
    body = json.loads(json.dumps(CHECK_BODY))
    body["lock"] = {"id": "beta"}
    body["balance"]["allocated"] = 3
    res = models.CheckResponse.model_validate(body)
    assert res.model_extra == {"lock": {"id": "beta"}}
    assert res.balance is not None
    assert res.balance.model_extra == {"allocated": 3}
    assert res.model_dump(by_alias=True)["lock"] == {"id": "beta"}


@pytest.mark.parametrize(
    "interval", ["one_off", "minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year"]
)
def test_known_reset_intervals_parse(interval: str) -> None:
    assert models.Reset.model_validate({"interval": interval, "resets_at": None}).interval == interval


def test_unknown_enum_values_are_kept_as_strings() -> None:
    reset = models.Reset.model_validate({"interval": "fortnight", "resets_at": 1})
    assert reset.interval == "fortnight"
    usage = models.UsageCheck.model_validate(
        {"allowed": False, "featureCode": "f", "quantity": 1, "consumptionModel": "seats", "reason": "new"}
    )
    assert usage.consumption_model == "seats"
    assert usage.reason == "new"


def test_enum_rejects_non_strings() -> None:
    with pytest.raises(pydantic.ValidationError):
        models.Reset.model_validate({"interval": 5, "resets_at": 1})


def test_usage_check_uses_camel_case_json_names_and_snake_case_attributes() -> None:
    data = models.UsageCheckResponse.model_validate(USAGE_BODY).data
    assert data.feature_code == "api_calls"
    assert data.consumption_model == "metered"
    assert data.overage_enabled is None
    dumped = data.model_dump(by_alias=True)
    assert dumped["featureCode"] == "api_calls"
    assert "overageEnabled" not in dumped
    assert models.UsageCheck(allowed=True, feature_code="x", quantity=1).feature_code == "x"


def test_usage_check_needs_only_allowed_feature_code_and_quantity() -> None:
    data = models.UsageCheck.model_validate({"allowed": True, "featureCode": "f", "quantity": 2})
    assert data.remaining is None
    with pytest.raises(pydantic.ValidationError):
        models.UsageCheck.model_validate({"allowed": True, "featureCode": "f"})


def test_preview_products_need_only_id_and_name() -> None:
    preview = models.Preview.model_validate(
        {
            "scenario": "usage_limit",
            "title": "Out of messages",
            "message": "Upgrade to keep sending",
            "feature_id": "messages",
            "feature_name": "Messages",
            "products": [{"id": "pro", "name": "Pro", "price": 20}],
        }
    )
    assert preview.products[0].id == "pro"
    assert preview.products[0].model_extra == {"price": 20}


def test_is_fallback_is_false_for_parsed_answers_and_never_serialized() -> None:
    res = models.CheckResponse.model_validate(CHECK_BODY)
    assert res.is_fallback is False
    assert res.fallback_reason is None
    assert "is_fallback" not in res.model_dump()
    assert "is_fallback" not in res.model_dump_json()


@pytest.mark.parametrize("model", [models.CheckResponse, models.UsageCheck])
def test_parsing_runs_no_python_code_for_the_fallback_marker(model: Any) -> None:
    # A declared PrivateAttr would make pydantic call back into Python on every parse (measurably slower
    # on the hot path); the marker is set only on answers the SDK makes up.
    assert model.__pydantic_post_init__ is None
    assert model.__private_attributes__ == {}


def test_the_fallback_marker_survives_copies_and_pickles_and_is_never_serialized() -> None:
    from meterly.models._fallback import mark_fallback

    real = models.CheckResponse.model_validate(CHECK_BODY)
    made_up = real.model_copy()
    mark_fallback(made_up, "timeout")
    assert (made_up.is_fallback, made_up.fallback_reason) == (True, "timeout")
    assert real.fallback_reason is None  # the copy was marked, not the original
    assert made_up != real  # same fields, but one was made up
    for clone in (made_up.model_copy(), copy.deepcopy(made_up), pickle.loads(pickle.dumps(made_up))):
        assert clone.fallback_reason == "timeout"
        assert clone == made_up
    assert made_up.model_dump() == real.model_dump()
    assert "timeout" not in made_up.model_dump_json()


@pytest.mark.parametrize("model", [models.CheckResponse, models.UsageCheck])
def test_the_repr_of_a_fallback_shows_that_it_was_made_up(model: Any) -> None:
    from meterly.models._fallback import mark_fallback

    body = CHECK_BODY if model is models.CheckResponse else USAGE_BODY["data"]
    real = model.model_validate(body)
    # CheckResponse also shows is_degraded and usage_recorded (None on a real answer).
    degraded = ", is_degraded=False, usage_recorded=None" if model is models.CheckResponse else ""
    assert repr(real).endswith(f"is_fallback=False, fallback_reason=None{degraded})")
    made_up = real.model_copy()
    mark_fallback(made_up, "circuit_open")
    made_up_degraded = degraded.replace("usage_recorded=None", "usage_recorded=False")
    assert repr(made_up).endswith(f"is_fallback=True, fallback_reason='circuit_open'{made_up_degraded})")
    assert "is_fallback=True" in str(made_up)


def test_the_repr_shows_every_marker_property_a_subclass_adds() -> None:
    class Marked(models.CheckResponse):
        @property
        def is_degraded(self) -> bool:
            return True

    shown = repr(Marked.model_validate(CHECK_BODY))
    assert shown.endswith("is_fallback=False, fallback_reason=None, is_degraded=True, usage_recorded=None)")


def test_request_models_mirror_the_body() -> None:
    req = models.BalancesCheckRequest(customer_id="c", feature_id="f", required_balance=2)
    assert req.model_dump(by_alias=True) == {"customer_id": "c", "feature_id": "f", "required_balance": 2}
    usage = models.UsageCheckRequest(customer_id="c", feature_code="f", quantity=3)
    assert usage.model_dump(by_alias=True) == {"customerId": "c", "featureCode": "f", "quantity": 3}


def test_security_repr_hides_keys() -> None:
    sec = models.Security(bearer_auth="sk_secret_bearer", api_key_auth="sk_secret_header")
    assert "sk_secret" not in repr(sec)
    assert "sk_secret" not in str(sec)


def test_balance_rollovers_parse() -> None:
    balance = models.Balance.model_validate(
        {**BALANCE, "rollovers": [{"balance": 5, "expires_at": None, "granted": 10}]}
    )
    assert balance.rollovers is not None
    assert balance.rollovers[0].balance == 5


@pytest.mark.parametrize("op", [copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))])
def test_unset_is_a_falsy_singleton(op: Any) -> None:
    assert op(UNSET) is UNSET
    assert Unset() is UNSET
    assert not UNSET
    assert repr(UNSET) == "UNSET"


def test_unset_never_validates_from_json() -> None:
    res = models.CheckResponse.model_validate_json(json.dumps({**CHECK_BODY, "entity_id": "ent_1"}))
    assert res.entity_id == "ent_1"
