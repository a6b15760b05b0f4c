"""`ClientOutbox`: what it needs to be built, its counts (`stats`), `flush`'s result, `commit` to a
durable file, and `close` as a context manager."""

from __future__ import annotations

import time

import pytest

from meterly import errors, models
from meterly.outbox import REJECTED, RETRY, ClientOutbox, Outbox, Outcome, SqliteStore

from .conftest import Recorder


def test_an_outbox_needs_a_client_or_a_deliver_callable() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        ClientOutbox(None, Outbox())
    assert caught.value.param == "client"


def test_stats_count_what_was_queued_delivered_and_what_waits() -> None:
    recorder = Recorder()
    with ClientOutbox(None, Outbox(), deliver=recorder) as box:
        box.usage.track(customer_id="cus_1", feature_code="api_calls")
        box.usage.track(customer_id="cus_2", feature_code="api_calls")
        result = box.flush(timeout_ms=2_000)
        assert isinstance(result, models.FlushResult)
        assert (result.pending, result.rejected) == (0, 0)  # the sender may deliver before the flush
        stats = box.stats()
        assert (stats.queued, stats.delivered, stats.rejected, stats.dropped, stats.pending) == (
            2,
            2,
            0,
            0,
            0,
        )
        assert stats.oldest_pending_age is None
    assert box.closed
    assert len(recorder.events) == 2


def test_the_oldest_pending_age_grows_while_delivery_fails() -> None:
    box = ClientOutbox(None, Outbox(close_timeout_ms=0), deliver=Recorder(Outcome(RETRY)))
    try:
        box.usage.track(customer_id="cus_1", feature_code="api_calls")
        time.sleep(0.02)
        stats = box.stats()
        assert stats.pending == 1
        assert stats.oldest_pending_age is not None
        assert stats.oldest_pending_age >= 0.02
        assert box.flush(timeout_ms=50).pending == 1
    finally:
        box.close()


def test_flush_reports_rejections_and_dead_letters_keep_them() -> None:
    refused = errors.MeterlyError("unknown customer")
    with ClientOutbox(None, Outbox(), deliver=Recorder(Outcome(REJECTED, refused))) as box:
        queued = box.usage.track(customer_id="cus_404", feature_code="api_calls")
        result = box.flush(timeout_ms=2_000)
        assert (result.delivered, result.pending) == (0, 0)
        assert box.stats().rejected == 1  # counted whether the flush or the sender's own pass got to it
        [letter] = box.dead_letters()
        assert letter.event.idempotency_key == queued.idempotency_key
        assert letter.error == "unknown customer"


def test_commit_writes_queued_events_to_the_file_at_once(durable_path: str) -> None:
    config = Outbox(path=durable_path, commit_interval_ms=60_000, close_timeout_ms=0)
    box = ClientOutbox(None, config, deliver=Recorder(Outcome(RETRY)))
    other = SqliteStore(durable_path, 100, False, 30.0)
    try:
        box.usage.track(customer_id="cus_1", feature_code="api_calls")
        box.commit()
        assert other.pending() == 1
    finally:
        box.close()
        other.close()
