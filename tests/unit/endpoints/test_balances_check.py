"""`balances.check` (Autumn): its declaration, and the answer it makes up under fail-open."""

from __future__ import annotations

from meterly import models
from meterly._declaration import BEARER_AUTH
from meterly._endpoints._services import AUTUMN_VERSION
from meterly._endpoints.balances_check import BALANCES_CHECK as OP


def test_it_posts_to_autumns_path_with_bearer_auth_and_autumns_version() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/balances.check",
        BEARER_AUTH,
        AUTUMN_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == ("balances", "check", "balancesCheck")


def test_it_writes_only_with_send_event() -> None:
    assert OP.writes_with({"send_event": True})
    assert not OP.writes_with({"send_event": None})


def test_the_answer_is_the_whole_body() -> None:
    assert OP.envelope is None
    assert OP.response_model is models.CheckResponse
    assert OP.request_model is models.BalancesCheckRequest


def test_the_fallback_echoes_the_customer_entity_and_required_balance() -> None:
    assert OP.fallback is not None
    answer = OP.fallback({"customer_id": "cus_1", "entity_id": "seat_1", "required_balance": 2.5}, True)
    assert (answer.allowed, answer.customer_id, answer.entity_id, answer.required_balance) == (
        True,
        "cus_1",
        "seat_1",
        2.5,
    )
    assert answer.balance is None


def test_the_fallback_leaves_out_what_the_call_did_not_give() -> None:
    assert OP.fallback is not None
    answer = OP.fallback({"customer_id": "cus_1", "entity_id": None, "required_balance": None}, False)
    assert not answer.allowed
    assert "entity_id" not in answer.model_fields_set


def test_allowed_reads_the_answers_allowed() -> None:
    assert OP.allowed is not None
    assert OP.fallback is not None
    assert OP.allowed(OP.fallback({"customer_id": "cus_1"}, True))
    assert not OP.allowed(OP.fallback({"customer_id": "cus_1"}, False))


def test_fail_open_policies_look_it_up_by_feature_id() -> None:
    assert OP.feature_param == "feature_id"


def test_a_lock_makes_it_a_write_too() -> None:
    assert OP.writes == ("send_event", "lock")
    assert OP.writes_with({"lock": {"lock_id": "lock_1"}})
    assert not OP.writes_with({"lock": None, "send_event": None})
    assert OP.dedup == "none"  # Autumn deduplicates neither: a lost answer is never resent
