"""Idempotency keys on Commet's routes: a replay answers the first answer, a reused key with another body
is a 409. Autumn's check does not honour the header (shared/UPSTREAM.md): a resend is counted again."""

from __future__ import annotations

import pytest

from meterly import Meterly, errors
from meterly.sandbox import SandboxEngine

from .conftest import CHECK, USAGE, post

CHECK_BODY = {"customer_id": "cus_basic", "feature_id": "messages", "send_event": True}
USAGE_BODY = {"customerId": "cus_basic", "featureCode": "messages", "quantity": 1}
TRACK = "/v1/usage/events"
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
    # Autumn's check with send_event, resent with its key, is counted again, as Autumn does.
    checks = [post(engine, CHECK, CHECK_BODY, idempotency_key="k1-autumn") for _ in range(2)]
    assert [(c.status, c.headers.get("idempotent-replayed")) for c in checks] == [(200, None)] * 2
    assert engine.balance("cus_basic", "messages")["usage"] == 3  # type: ignore[index]


def test_key_order_and_spacing_do_not_make_a_different_body(engine: SandboxEngine) -> None:
    post(engine, CHECK, None, idempotency_key="k", raw=b'{"customer_id":"cus_basic","feature_id":"messages"}')
    again = post(
        engine,
        CHECK,
        None,
        idempotency_key="k",
        raw=b'{ "feature_id": "messages", "customer_id": "cus_basic" }',
    )
    assert again.status == 200


def test_same_idempotency_key_with_a_different_body_is_a_409_on_commet_only(engine: SandboxEngine) -> None:
    post(engine, CHECK, CHECK_BODY, idempotency_key="k2")
    reused = post(engine, CHECK, {**CHECK_BODY, "required_balance": 2}, idempotency_key="k2")
    assert reused.status == 200  # Autumn ignores the header: a second check, counted
    assert engine.balance("cus_basic", "messages")["usage"] == 3  # type: ignore[index]
    post(engine, USAGE, USAGE_BODY, idempotency_key="k3")
    enveloped = post(engine, USAGE, {**USAGE_BODY, "quantity": 2}, idempotency_key="k3")
    assert enveloped.status == 409
    assert enveloped.json()["success"] is False
    assert enveloped.json()["error"]["code"] == "idempotency_key_reused"
    assert engine.balance("cus_basic", "messages")["usage"] == 3  # type: ignore[index]


def test_idempotency_keys_expire_after_a_day(engine: SandboxEngine) -> None:
    post(engine, CHECK, CHECK_BODY, idempotency_key="k4")
    engine.clock.advance(24 * 3600 + 1)
    assert post(engine, CHECK, {**CHECK_BODY, "required_balance": 2}, idempotency_key="k4").status == 200


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
    assert post(engine, CHECK, CHECK_BODY, idempotency_key="k" * 256).status == 400
