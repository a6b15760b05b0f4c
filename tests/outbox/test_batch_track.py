"""Autumn's `balances.track` events go out as `batch_track` batches of up to 1,000, each item with its
`idempotency_key`, to the sandbox on a real socket; it deduplicates items by key as Autumn does, so its
totals prove each event counted once."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

from meterly.sandbox import Sandbox

from .conftest import client_with_outbox, ledger, usage_of


def batch_sizes(sandbox: Sandbox) -> list[int]:
    """The size of every `batch_track` the sandbox accepted."""
    return [
        len(call.body)
        for call in sandbox.engine.history
        if call.operation_id == "balancesBatchTrack" and 200 <= call.status < 300
    ]


def test_events_go_in_batches_of_at_most_1000_each_item_with_its_key(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    sandbox.engine.faults.outage = True  # let them pile up, so the batches fill
    keys = {
        client.outbox.balances.track(customer_id="cus_1", feature_id="api_calls", value=1).idempotency_key
        for _ in range(2_500)
    }
    sandbox.engine.faults.outage = False
    result = client.outbox.flush(timeout_ms=10_000)
    stats = client.outbox.stats()  # what the flush and the sender before it delivered
    client.close()
    assert (stats.delivered, result.pending) == (2_500, 0)
    assert max(batch_sizes(sandbox)) <= 1000
    assert sum(batch_sizes(sandbox)) == 2_500
    assert set(ledger(sandbox).batch_arrivals) == keys
    assert usage_of(sandbox) == 2_500


def test_an_outage_then_recovery_counts_every_event_once(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    sandbox.engine.faults.outage = True
    values = [Decimal(i % 4) + Decimal("0.25") for i in range(500)]
    for value in values:
        client.outbox.balances.track(customer_id="cus_2", feature_id="api_calls", value=float(value))
    time.sleep(0.5)
    refused = [call for call in sandbox.engine.history if call.status == 503]
    assert len(refused) > 1  # it kept retrying through the outage
    sandbox.engine.faults.outage = False
    assert client.outbox.flush(timeout_ms=10_000).pending == 0
    client.close()
    assert usage_of(sandbox, "cus_2") == sum(values)
    assert max(ledger(sandbox).batch_arrivals.values()) == 1


def test_one_rejected_item_is_dead_lettered_and_the_rest_of_its_batch_delivered(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    sandbox.engine.faults.outage = True
    for customer in ["cus_1", "cus_1", "cus_unknown", "cus_1"]:
        client.outbox.balances.track(customer_id=customer, feature_id="api_calls", value=1)
    sandbox.engine.faults.outage = False
    result = client.outbox.flush(timeout_ms=10_000)
    stats = client.outbox.stats()
    (dead,) = client.outbox.dead_letters()
    client.close()
    assert (stats.delivered, stats.rejected, result.pending) == (3, 1, 0)
    assert dead.event.body["customer_id"] == "cus_unknown"
    assert usage_of(sandbox) == 3


def counted_tokens(sandbox: Sandbox) -> list[int]:
    """The input tokens of every `track_tokens` the sandbox answered 2xx: each one it counted."""
    return [
        call.body["input_tokens"]
        for call in sandbox.engine.history
        if call.operation_id == "balancesTrackTokens" and 200 <= call.status < 300
    ]


def test_track_tokens_events_go_one_call_each_and_an_unknown_outcome_is_never_resent(
    sandbox: Sandbox,
) -> None:
    client = client_with_outbox(sandbox.url)
    for tokens in (10, 20):
        client.outbox.balances.track_tokens(
            customer_id="cus_1", model_id="openai/gpt-5", input_tokens=tokens, output_tokens=1
        )
    assert client.outbox.flush(timeout_ms=10_000).pending == 0
    assert client.outbox.stats().delivered == 2
    sandbox.engine.faults.outage = True  # a 5xx: the service may have counted it, and does not deduplicate
    lost = client.outbox.balances.track_tokens(
        customer_id="cus_1", model_id="openai/gpt-5", input_tokens=30, output_tokens=1
    )
    result = client.outbox.flush(timeout_ms=10_000)
    sandbox.engine.faults.outage = False
    client.outbox.flush(timeout_ms=200)
    stats = client.outbox.stats()
    (dead,) = client.outbox.dead_letters()
    client.close()
    assert counted_tokens(sandbox) == [10, 20]
    assert usage_of(sandbox, feature="ai_credits") == 10 + 1 + 20 + 1  # one credit a token
    assert (stats.delivered, stats.rejected, result.pending) == (2, 1, 0)
    assert dead.event.idempotency_key == lost.idempotency_key
    assert "outcome unknown" in dead.error


def test_a_track_tokens_event_that_never_reached_the_service_waits_for_a_retry() -> None:
    with socket.socket() as probe:  # a port nothing listens on: every connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_with_outbox(f"http://127.0.0.1:{port}")
    client.outbox.balances.track_tokens(
        customer_id="cus_1", model_id="openai/gpt-5", input_tokens=5, output_tokens=1
    )
    result = client.outbox.flush(timeout_ms=300)
    assert (result.pending, client.outbox.stats().rejected) == (1, 0)
    assert client.outbox.dead_letters() == []
    client.close()


def test_a_track_tokens_event_whose_answer_was_lost_is_dead_lettered_and_never_resent(
    sandbox: Sandbox,
) -> None:
    sandbox.engine.faults.drop_next(1)  # the sandbox counts it, then hangs up before answering
    client = client_with_outbox(sandbox.url)
    lost = client.outbox.balances.track_tokens(
        customer_id="cus_1", model_id="openai/gpt-5", input_tokens=5, output_tokens=1
    )
    result = client.outbox.flush(timeout_ms=5_000)
    client.outbox.flush(timeout_ms=200)  # a second chance to resend, which must not be taken
    (dead,) = client.outbox.dead_letters()
    client.close()
    assert result.pending == 0
    assert counted_tokens(sandbox) == [5]  # it arrived once: a resend would have counted again
    assert usage_of(sandbox, feature="ai_credits") == 5 + 1
    assert dead.event.idempotency_key == lost.idempotency_key
    assert "outcome unknown" in dead.error
