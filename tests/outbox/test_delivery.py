"""Delivery of Commet's `usage.track` events to the sandbox on real sockets: each counts once, through an
outage too; a rejected event is dead-lettered, logged once and never retried; both clients; fork."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from decimal import Decimal
from typing import Any

import pytest

from meterly import AsyncMeterly
from meterly.outbox import DeadLetter, Outbox
from meterly.sandbox import DEFAULT_API_KEY, Sandbox

from .conftest import FAST, client_with_outbox, ledger, usage_of

OUTAGE_SECONDS = float(os.environ.get("METERLY_TEST_OUTAGE_SECONDS", "2"))


def test_every_event_is_delivered_and_counted_once(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    track = client.outbox.usage.track
    keys = [
        track(customer_id="cus_1", feature_code="api_calls", value=i % 5 + 1).idempotency_key
        for i in range(100)
    ]
    result = client.outbox.flush(timeout_ms=10_000)
    stats = client.outbox.stats()  # what the flush and the sender before it did
    assert (stats.delivered, result.pending, stats.rejected) == (100, 0, 0)
    assert usage_of(sandbox) == sum(i % 5 + 1 for i in range(100))
    recorded = ledger(sandbox).recorded()
    assert all(recorded[key] == 1 for key in keys)
    client.close()


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "durable"])
def test_a_flush_counts_every_event_that_left_the_store(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, durable: bool
) -> None:
    """An event leaves the pending ones and is counted delivered as one step: a flush that returns as the
    last one leaves, and the stats read after it, never miss it (the sender counted after leaving the
    store, and a flush in between reported one delivered of two)."""
    from meterly.outbox._store import MemoryStore, SqliteStore

    store_class: Any = SqliteStore if durable else MemoryStore
    settle = store_class.settle

    def settle_then_pause(self: Any, *args: Any) -> Any:
        settled = settle(self, *args)
        time.sleep(0.05)  # the window between the store's change and the count
        return settled

    monkeypatch.setattr(store_class, "settle", settle_then_pause)
    options: dict[str, Any] = {"path": str(tmp_path / "outbox.sqlite3")} if durable else {}
    client = client_with_outbox(sandbox.url, **options)
    for value in (1, 2):
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=value)
    result = client.outbox.flush(timeout_ms=10_000)
    stats = client.outbox.stats()
    client.close()
    assert (result.pending, stats.pending) == (0, 0)
    assert result.delivered == stats.delivered == 2


def test_an_outage_then_recovery_delivers_every_event_once(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    sandbox.engine.faults.outage = True
    values = [Decimal(i % 7) + Decimal("0.5") for i in range(60)]
    started = time.monotonic()
    for value in values:
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=float(value))
    assert time.monotonic() - started < 0.5  # queueing never waits on the service
    time.sleep(OUTAGE_SECONDS)
    assert client.outbox.pending() == 60
    sandbox.engine.faults.outage = False
    result = client.outbox.flush(timeout_ms=10_000)
    assert result.pending == 0
    assert usage_of(sandbox) == sum(values)
    assert max(ledger(sandbox).recorded().values()) == 1
    client.close()


def test_an_event_whose_answer_was_lost_is_sent_again_with_its_key_and_counted_once(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    sandbox.engine.faults.drop_next(3)  # recorded, then the connection closes before the answer
    keys = [
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=2).idempotency_key
        for _ in range(5)
    ]
    assert client.outbox.flush(timeout_ms=10_000).pending == 0
    client.close()
    arrived, recorded = ledger(sandbox).arrived(), ledger(sandbox).recorded()
    assert sum(arrived[key] for key in keys) == 5 + 3  # each lost answer's event went out again
    assert [recorded[key] for key in keys] == [1] * 5  # Commet's Idempotency-Key: counted once
    assert usage_of(sandbox) == 10
    assert client.outbox.dead_letters() == []


def test_a_rejected_event_is_dead_lettered_logged_once_and_never_retried(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    reports: list[tuple[DeadLetter, BaseException]] = []
    client = client_with_outbox(sandbox.url, on_rejected=lambda dead, error: reports.append((dead, error)))
    caplog.set_level(logging.WARNING, logger="meterly")
    bad = client.outbox.usage.track(customer_id="cus_nobody", feature_code="api_calls", value=4)
    good = client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=2)
    result = client.outbox.flush(timeout_ms=5_000)
    stats = client.outbox.stats()
    assert (stats.delivered, result.pending, stats.rejected) == (1, 0, 1)
    for _ in range(3):
        client.outbox.flush(timeout_ms=100)
    (dead,) = client.outbox.dead_letters()
    assert dead.event.idempotency_key == bad.idempotency_key
    assert "customer_not_found" in dead.error
    assert [d.event.idempotency_key for d, _ in reports] == [bad.idempotency_key]
    assert getattr(reports[0][1], "status_code", None) == 404
    lines = [r for r in caplog.records if bad.idempotency_key in r.getMessage()]
    assert len(lines) == 1
    arrived = [call for call in sandbox.engine.history if call.idempotency_key == bad.idempotency_key]
    assert len(arrived) == 1
    assert ledger(sandbox).recorded()[good.idempotency_key] == 1
    client.close()


def test_close_flushes_what_is_left(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    for _ in range(20):
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=1)
    client.close()
    assert usage_of(sandbox) == 20


def test_a_durable_outbox_keeps_what_close_could_not_deliver_for_the_next_process(
    sandbox: Sandbox, durable_path: str
) -> None:
    sandbox.engine.faults.outage = True
    client = client_with_outbox(sandbox.url, path=durable_path, close_timeout_ms=100)
    for _ in range(30):
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=2)
    client.close()
    assert usage_of(sandbox) == 0
    sandbox.engine.faults.outage = False
    later = client_with_outbox(sandbox.url, path=durable_path)
    assert later.outbox.flush(timeout_ms=10_000).pending == 0
    assert usage_of(sandbox) == 60
    later.close()


def test_the_async_client_delivers_from_a_task(sandbox: Sandbox) -> None:
    async def main() -> Any:
        client = AsyncMeterly(api_key=DEFAULT_API_KEY, server_url=sandbox.url, outbox=Outbox(**FAST))
        box = client.outbox
        sandbox.engine.faults.fail_next(3)
        for _ in range(25):
            box.usage.track(customer_id="cus_1", feature_code="api_calls", value=3)
        result = await box.flush(timeout_ms=10_000)
        await client.aclose()
        return result

    result = asyncio.run(main())
    assert (result.delivered, result.pending) == (25, 0)
    assert usage_of(sandbox) == 75
    assert max(ledger(sandbox).recorded().values()) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_sender_and_never_resends_the_parent_s_events(sandbox: Sandbox) -> None:
    client = client_with_outbox(sandbox.url)
    sandbox.engine.faults.outage = True
    for _ in range(5):
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=1)
    pid = os.fork()
    if pid == 0:  # the child: its own events, its own sender
        code = 1
        try:
            for _ in range(3):
                client.outbox.usage.track(customer_id="cus_2", feature_code="api_calls", value=10)
            deadline = time.monotonic() + 10
            while client.outbox.pending() and time.monotonic() < deadline:
                client.outbox.flush(timeout_ms=200)
            code = 0 if client.outbox.pending() == 0 else 2
        finally:
            os._exit(code)
    time.sleep(0.3)
    sandbox.engine.faults.outage = False
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.outbox.flush(timeout_ms=10_000).pending == 0
    assert usage_of(sandbox, "cus_1") == 5
    assert usage_of(sandbox, "cus_2") == 30
    assert max(ledger(sandbox).arrived().values()) == 1  # no event was sent by both processes
    client.close()


def test_the_async_client_delivers_a_durable_outbox(sandbox: Sandbox, durable_path: str) -> None:
    async def main() -> Any:
        client = AsyncMeterly(
            api_key=DEFAULT_API_KEY, server_url=sandbox.url, outbox=Outbox(path=durable_path, **FAST)
        )
        box = client.outbox
        for _ in range(40):
            box.usage.track(customer_id="cus_1", feature_code="api_calls", value=1)
        result = await box.flush(timeout_ms=10_000)
        await client.aclose()
        return result

    result = asyncio.run(main())
    assert (result.delivered, result.pending) == (40, 0)
    assert usage_of(sandbox) == 40


def test_drop_oldest_logs_the_drops_and_delivers_the_newest(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_with_outbox(sandbox.url, max_pending=10, on_full="drop_oldest")
    sandbox.engine.faults.outage = True
    for value in range(1, 26):
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=value)
    assert client.outbox.pending() == 10
    sandbox.engine.faults.outage = False
    client.outbox.flush(timeout_ms=10_000)
    client.close()
    # The newest nine survive, and one older event: the one a sender held in flight while it was failing
    # (only waiting events are dropped), or else the tenth newest.
    assert usage_of(sandbox) - sum(range(17, 26)) in range(1, 17)
    assert client.outbox.stats().dropped == 15
    assert "dropped the oldest waiting events (1 so far)" in caplog.text
