"""The sender's decisions (`SenderCore`): which batch goes next, what each outcome does to its events,
backoff and `Retry-After`, dead letters reported once; and the thread that runs them."""

from __future__ import annotations

import logging
import time
from typing import Any, List, Sequence, Tuple

import pytest

from meterly import errors
from meterly.outbox import DELIVERED, REJECTED, RETRY, DeadLetter, Event, MemoryStore, Outbox, Outcome
from meterly.outbox._sender import SenderCore, ThreadSender


def core(**config: Any) -> SenderCore:
    store = MemoryStore(100, False)
    return SenderCore(store, Outbox(retry_initial_ms=1000, retry_max_ms=1000, **config))


def queue(sender: SenderCore, count: int, operation: str = "usageTrack") -> None:
    for i in range(count):
        sender.store.add(operation, {"customer_id": "cus_1", "value": i}, f"{operation}-{i}", time.time())


def test_next_work_claims_one_operation_s_batch_up_to_batch_size() -> None:
    sender = core(batch_size=2)
    queue(sender, 3)
    work, wait = sender.next_work(time.time())
    assert work is not None
    assert wait == 0.0
    operation, events = work
    assert operation == "usageTrack"
    assert [event.idempotency_key for event in events] == ["usageTrack-0", "usageTrack-1"]


def test_delivered_events_leave_the_store_and_are_counted() -> None:
    sender = core()
    queue(sender, 2)
    work, _ = sender.next_work(time.time())
    assert work is not None
    sender.settle(work[0], work[1], [Outcome(DELIVERED)] * 2, time.time())
    assert (sender.delivered, sender.rejected, sender.store.pending()) == (2, 0, 0)


def test_a_retry_pauses_the_operation_for_the_backoff_and_a_flush_resumes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = core()
    queue(sender, 1)
    now = time.time()
    work, _ = sender.next_work(now)
    assert work is not None
    with caplog.at_level(logging.WARNING, logger="meterly"):
        sender.settle(work[0], work[1], [Outcome(RETRY, errors.APIConnectionError("refused"))], now)
    assert sender.store.pending() == 1
    idle, wait = sender.next_work(now)
    assert idle is None
    assert 0.5 <= wait <= 1.0  # the first backoff: retry_initial_ms, with jitter down to half
    assert sum("retrying with backoff" in r.getMessage() for r in caplog.records) == 1
    sender.resume()
    again, _ = sender.next_work(now)
    assert again is not None
    assert again[1][0].idempotency_key == "usageTrack-0"


def test_retry_after_is_the_wait_when_the_service_gave_one() -> None:
    sender = core()
    queue(sender, 1)
    now = time.time()
    work, _ = sender.next_work(now)
    assert work is not None
    sender.settle(work[0], work[1], [Outcome(RETRY, errors.APIConnectionError("429"), 7.5)], now)
    assert sender.next_work(now + 2.0)[0] is None  # past the 1 s backoff, within the asked 7.5 s
    assert sender.next_work(now + 7.6)[0] is not None


def test_a_rejected_event_is_dead_lettered_logged_and_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    reported: List[Tuple[DeadLetter, BaseException]] = []

    def report(letter: DeadLetter, error: BaseException) -> None:
        reported.append((letter, error))

    sender = core(on_rejected=report)
    queue(sender, 1)
    work, _ = sender.next_work(time.time())
    assert work is not None
    refused = errors.MeterlyError("unknown customer")
    with caplog.at_level(logging.WARNING, logger="meterly"):
        sender.settle(work[0], work[1], [Outcome(REJECTED, refused)], time.time())
    assert (sender.rejected, sender.store.pending()) == (1, 0)
    [letter] = sender.store.dead_letters()
    assert (letter.event.idempotency_key, letter.error) == ("usageTrack-0", "unknown customer")
    assert [(r[0].event.idempotency_key, r[1]) for r in reported] == [("usageTrack-0", refused)]
    assert sum("dead-letter list" in r.getMessage() for r in caplog.records) == 1


def test_a_broken_on_rejected_is_logged_and_delivery_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken(letter: DeadLetter, error: BaseException) -> None:
        raise RuntimeError("callback bug")

    sender = core(on_rejected=broken)
    queue(sender, 1)
    work, _ = sender.next_work(time.time())
    assert work is not None
    with caplog.at_level(logging.ERROR, logger="meterly"):
        sender.settle(work[0], work[1], [Outcome(REJECTED, errors.MeterlyError("no"))], time.time())
    assert sender.rejected == 1
    assert any("on_rejected raised" in r.getMessage() for r in caplog.records)


def test_events_a_deliverer_did_not_answer_for_wait_for_a_retry() -> None:
    sender = core()
    queue(sender, 3)
    work, _ = sender.next_work(time.time())
    assert work is not None
    sender.settle(work[0], work[1], [Outcome(DELIVERED)], time.time())
    assert (sender.delivered, sender.store.pending()) == (1, 2)


def test_the_thread_keeps_the_events_of_a_deliverer_that_raises() -> None:
    calls: List[int] = []

    def broken(operation: str, events: Sequence[Event]) -> Sequence[Outcome]:
        calls.append(len(events))
        raise RuntimeError("deliverer bug")

    sender = core()
    thread = ThreadSender(sender, broken)
    queue(sender, 2)
    thread.start()
    try:
        deadline = time.monotonic() + 2
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        thread.stop()
    assert calls == [2]
    assert (sender.delivered, sender.rejected, sender.store.pending()) == (0, 0, 2)
