"""Idempotency keys, as each service honours them: on Commet's routes a replay within 24 hours answers the
first answer and a reused key with another body is a 409; Autumn's check and track ignore the header."""

from __future__ import annotations

import pytest

from meterly import Meterly, errors
from meterly.sandbox import SandboxEngine

from .conftest import CHECK, USAGE, post

CHECK_BODY = {"customer_id": "cus_basic", "feature_id": "messages", "send_event": True}
USAGE_BODY = {"customerId": "cus_basic", "featureCode": "messages", "quantity": 1}
TRACK = "/api/v1/usage/events"
TRACK_BODY = {"customerId": "cus_basic", "featureCode": "messages", "value": 1}


def test_same_idempotency_key_and_body_returns_the_first_answer_and_deducts_once(
    engine: SandboxEngine,
) -> None:
    first = post(engine, TRACK, TRACK_BODY, idempotency_key="k1")
    again = post(engine, TRACK, TRACK_BODY, idempotency_key="k1")
    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_key_order_and_spacing_do_not_make_a_different_body(engine: SandboxEngine) -> None:
    post(engine, TRACK, None, idempotency_key="k", raw=b'{"customerId":"cus_basic","featureCode":"messages"}')
    again = post(
        engine,
        TRACK,
        None,
        idempotency_key="k",
        raw=b'{ "featureCode": "messages", "customerId": "cus_basic" }',
    )
    assert again.status == 200
    assert again.headers["idempotent-replayed"] == "true"


def test_same_idempotency_key_with_a_different_body_is_a_409(engine: SandboxEngine) -> None:
    post(engine, TRACK, TRACK_BODY, idempotency_key="k2")
    conflict = post(engine, TRACK, {**TRACK_BODY, "value": 2}, idempotency_key="k2")
    assert conflict.status == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"
    post(engine, USAGE, USAGE_BODY, idempotency_key="k3")
    enveloped = post(engine, USAGE, {**USAGE_BODY, "quantity": 2}, idempotency_key="k3")
    assert enveloped.status == 409
    assert enveloped.json()["success"] is False
    assert enveloped.json()["error"]["code"] == "idempotency_key_reused"
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_autumns_check_ignores_the_idempotency_key_and_counts_each_request(engine: SandboxEngine) -> None:
    first = post(engine, CHECK, CHECK_BODY, idempotency_key="k2")
    again = post(engine, CHECK, {**CHECK_BODY, "required_balance": 2}, idempotency_key="k2")
    assert (first.status, again.status) == (200, 200)
    assert "idempotent-replayed" not in again.headers
    assert engine.balance("cus_basic", "messages")["usage"] == 3  # type: ignore[index]


def test_idempotency_keys_expire_after_a_day(engine: SandboxEngine) -> None:
    post(engine, TRACK, TRACK_BODY, idempotency_key="k4")
    engine.clock.advance(24 * 3600 - 1)
    assert post(engine, TRACK, {**TRACK_BODY, "value": 2}, idempotency_key="k4").status == 409
    engine.clock.advance(2)
    assert post(engine, TRACK, {**TRACK_BODY, "value": 2}, idempotency_key="k4").status == 200


def test_keys_are_kept_for_their_day_however_many_come_after(engine: SandboxEngine) -> None:
    post(engine, TRACK, TRACK_BODY, idempotency_key="first")
    check = {"customerId": "cus_basic", "featureCode": "messages"}
    for index in range(10_050):  # more than the old count-based limit of 10,000 keys
        post(engine, "/api/v1/usage/check", check, idempotency_key=f"k{index}")
    again = post(engine, TRACK, TRACK_BODY, idempotency_key="first")
    assert again.headers.get("idempotent-replayed") == "true"


def test_expired_keys_are_forgotten_so_memory_stays_bounded_by_time(engine: SandboxEngine) -> None:
    for index in range(50):
        post(engine, USAGE, USAGE_BODY, idempotency_key=f"old{index}")
    engine.clock.advance(24 * 3600 + 1)
    post(engine, USAGE, USAGE_BODY, idempotency_key="new")
    assert len(engine._idempotency) == 1  # pyright: ignore[reportPrivateUsage]


def test_sdk_call_with_the_same_idempotency_key_is_answered_once(
    client: Meterly, engine: SandboxEngine
) -> None:
    for _ in range(3):
        client.usage.track(customer_id="cus_basic", feature_code="messages", idempotency_key="once")
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]
    with pytest.raises(errors.ConflictError) as caught:
        client.usage.track(customer_id="cus_basic", feature_code="messages", value=2, idempotency_key="once")
    assert caught.value.code == "idempotency_key_reused"


def test_an_idempotency_key_longer_than_255_characters_is_400(engine: SandboxEngine) -> None:
    assert post(engine, TRACK, TRACK_BODY, idempotency_key="k" * 256).status == 400
