"""balances.batch_track: a JSON array of events, 202 `{"success": true}`, items deduplicated by their
`idempotency_key` for 24 hours of the sandbox clock."""

from __future__ import annotations

from meterly.sandbox import SandboxEngine

from ..conftest import post

BATCH = "/v1/balances.batch_track"


def _usage(engine: SandboxEngine) -> float:
    balance = engine.balance("cus_basic", "messages")
    assert balance is not None
    return float(balance["usage"])


def test_a_batch_is_queued_with_202_and_every_event_recorded(engine: SandboxEngine) -> None:
    events = [{"customer_id": "cus_basic", "feature_id": "messages", "value": 2}] * 3
    answer = post(engine, BATCH, events)
    assert (answer.status, answer.json()) == (202, {"success": True})
    assert _usage(engine) == 6


def test_an_event_seen_in_the_last_24_hours_is_skipped(engine: SandboxEngine) -> None:
    events = [
        {"customer_id": "cus_basic", "feature_id": "messages", "idempotency_key": "e1"},
        {"customer_id": "cus_basic", "feature_id": "messages", "idempotency_key": "e2"},
    ]
    post(engine, BATCH, events)
    post(engine, BATCH, events)  # a resent batch counts once
    assert _usage(engine) == 2
    engine.clock.advance(24 * 3600)
    post(engine, BATCH, events[:1])
    assert _usage(engine) == 3


def test_the_header_idempotency_key_does_not_deduplicate_a_batch(engine: SandboxEngine) -> None:
    events = [{"customer_id": "cus_basic", "feature_id": "messages"}]
    post(engine, BATCH, events, idempotency_key="h")
    post(engine, BATCH, events, idempotency_key="h")
    assert _usage(engine) == 2


def test_a_bad_event_refuses_the_whole_batch_naming_it(engine: SandboxEngine) -> None:
    events = [
        {"customer_id": "cus_basic", "feature_id": "messages"},
        {"customer_id": "cus_nobody", "feature_id": "messages"},
    ]
    answer = post(engine, BATCH, events)
    assert answer.status == 404
    assert answer.json()["message"].startswith("[1]")
    malformed = post(engine, BATCH, [{"customer_id": "cus_basic", "feature_id": "messages", "value": "2"}])
    assert (malformed.status, malformed.json()["message"].startswith("[0] value")) == (400, True)
    assert _usage(engine) == 0


def test_a_batch_must_be_an_array_of_1_to_1000_events(engine: SandboxEngine) -> None:
    event = {"customer_id": "cus_basic", "feature_id": "messages"}
    assert post(engine, BATCH, []).status == 400
    assert post(engine, BATCH, event).status == 400
    assert post(engine, BATCH, [event] * 1001).status == 400
    assert post(engine, BATCH, [event] * 1000).status == 202
