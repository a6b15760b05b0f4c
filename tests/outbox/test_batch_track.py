"""Autumn's `balances.track` events go out as `batch_track` batches of up to 1,000, each item with its
`idempotency_key`. Against `fake_autumn.py` (a loopback stand-in) until the sandbox serves batch_track."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal

from .conftest import client_with_outbox
from .fake_autumn import serve


def test_events_go_in_batches_of_at_most_1000_each_item_with_its_key() -> None:
    with serve() as fake:
        client = client_with_outbox(fake.url)
        fake.outage = True  # let them pile up, so the batches fill
        keys = {
            client.outbox.balances.track(customer_id="cus_1", feature_id="messages", value=1).idempotency_key
            for _ in range(2_500)
        }
        fake.outage = False
        result = client.outbox.flush(timeout_ms=10_000)
        stats = client.outbox.stats()  # what the flush and the sender before it delivered
        client.close()
    assert (stats.delivered, result.pending) == (2_500, 0)
    assert max(fake.batches) <= 1000
    assert sum(fake.batches) == 2_500
    assert fake.seen == keys
    assert fake.totals[("cus_1", "messages")] == 2_500


def test_an_outage_then_recovery_counts_every_event_once() -> None:
    with serve() as fake:
        client = client_with_outbox(fake.url)
        fake.outage = True
        values = [Decimal(i % 4) + Decimal("0.25") for i in range(500)]
        for value in values:
            client.outbox.balances.track(customer_id="cus_2", feature_id="tokens", value=float(value))
        time.sleep(0.5)
        assert fake.requests > 1  # it kept retrying through the outage
        fake.outage = False
        assert client.outbox.flush(timeout_ms=10_000).pending == 0
        client.close()
    assert fake.totals[("cus_2", "tokens")] == sum(values)
    assert max(fake.arrivals.values()) == 1


def test_one_rejected_item_is_dead_lettered_and_the_rest_of_its_batch_delivered() -> None:
    with serve() as fake:
        client = client_with_outbox(fake.url)
        fake.outage = True
        for customer in ["cus_1", "cus_1", "cus_unknown", "cus_1"]:
            client.outbox.balances.track(customer_id=customer, feature_id="messages", value=1)
        fake.outage = False
        result = client.outbox.flush(timeout_ms=10_000)
        stats = client.outbox.stats()
        (dead,) = client.outbox.dead_letters()
        client.close()
    assert (stats.delivered, stats.rejected, result.pending) == (3, 1, 0)
    assert dead.event.body["customer_id"] == "cus_unknown"
    assert fake.totals[("cus_1", "messages")] == 3


def test_track_tokens_events_go_one_call_each_and_an_unknown_outcome_is_never_resent() -> None:
    with serve() as fake:
        client = client_with_outbox(fake.url)
        for tokens in (10, 20):
            client.outbox.balances.track_tokens(
                customer_id="cus_1", model_id="openai/gpt-5", input_tokens=tokens, output_tokens=1
            )
        assert client.outbox.flush(timeout_ms=10_000).pending == 0
        assert client.outbox.stats().delivered == 2
        fake.outage = True  # a 5xx: the service may have counted it, and does not deduplicate
        lost = client.outbox.balances.track_tokens(
            customer_id="cus_1", model_id="openai/gpt-5", input_tokens=30, output_tokens=1
        )
        result = client.outbox.flush(timeout_ms=10_000)
        fake.outage = False
        client.outbox.flush(timeout_ms=200)
        stats = client.outbox.stats()
        (dead,) = client.outbox.dead_letters()
        client.close()
    assert [body["input_tokens"] for body in fake.tokens] == [10, 20]
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


def test_a_track_tokens_event_whose_answer_was_lost_is_dead_lettered_and_never_resent() -> None:
    arrivals: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))

    def accept_read_and_hang_up() -> None:  # the request arrives; the answer never does
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                arrivals.append(conn.recv(65536))

    listener = threading.Thread(target=accept_read_and_hang_up, daemon=True)
    listener.start()
    client = client_with_outbox(f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        lost = client.outbox.balances.track_tokens(
            customer_id="cus_1", model_id="openai/gpt-5", input_tokens=5, output_tokens=1
        )
        result = client.outbox.flush(timeout_ms=5_000)
        client.outbox.flush(timeout_ms=200)  # a second chance to resend, which must not be taken
        (dead,) = client.outbox.dead_letters()
    finally:
        client.close()
        server.close()
    assert result.pending == 0
    assert len(arrivals) == 1
    assert dead.event.idempotency_key == lost.idempotency_key
    assert "outcome unknown" in dead.error
