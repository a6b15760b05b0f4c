"""Both stores: bounded by `max_pending` (raise or drop the oldest), leases that keep two processes off
one event, and dead letters kept in the file."""

from __future__ import annotations

import socket
import time
from typing import Union

import pytest

from meterly import errors
from meterly.outbox import MemoryStore, SqliteStore
from meterly.outbox import _store as store_module

Store = Union[MemoryStore, SqliteStore]


def make(kind: str, path: str, max_pending: int = 3, drop_oldest: bool = False, lease: float = 30.0) -> Store:
    if kind == "memory":
        return MemoryStore(max_pending, drop_oldest)
    return SqliteStore(path, max_pending, drop_oldest, lease)


def fill(store: Store, count: int, start: int = 0) -> None:
    """Queue `count` events and commit them (a durable store's writer would within `commit_interval`)."""
    try:
        for i in range(start, start + count):
            store.add("usageTrack", {"customer_id": "cus_1", "value": i}, f"key-{i}", time.time())
    finally:
        if isinstance(store, SqliteStore):
            store.commit()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_full_store_refuses_an_event_with_outbox_full_error(kind: str, durable_path: str) -> None:
    store = make(kind, durable_path)
    fill(store, 3)
    with pytest.raises(errors.OutboxFullError) as caught:
        fill(store, 1, start=3)
    assert isinstance(caught.value, errors.MeterlyError)
    assert "max_pending=3" in str(caught.value)
    assert store.pending() == 3
    values = [event.body["value"] for event in store.claim("usageTrack", 10, time.time())]
    assert values == [0, 1, 2]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_drop_oldest_keeps_the_newest_max_pending_and_counts_the_drops(kind: str, durable_path: str) -> None:
    store = make(kind, durable_path, drop_oldest=True)
    fill(store, 10)
    assert store.pending() == 3
    assert store.dropped == 7
    values = [event.body["value"] for event in store.claim("usageTrack", 10, time.time())]
    assert values == [7, 8, 9]


def test_memory_stays_bounded_at_max_pending() -> None:
    import tracemalloc

    store = MemoryStore(5_000, drop_oldest=True)
    tracemalloc.start()
    try:
        fill(store, 5_000)
        full = tracemalloc.get_traced_memory()[0]
        fill(store, 20_000, start=5_000)
        grown = tracemalloc.get_traced_memory()[0] - full
    finally:
        tracemalloc.stop()
    assert store.pending() == 5_000
    assert grown < full // 10  # four times as many events again, and the memory held stays that of 5,000


def test_two_stores_on_one_file_never_claim_the_same_event(durable_path: str) -> None:
    first = make("sqlite", durable_path, max_pending=100)
    second = make("sqlite", durable_path, max_pending=100)
    fill(first, 10)
    now = time.time()
    a = first.claim("usageTrack", 6, now)
    b = second.claim("usageTrack", 6, now)
    assert len(a) == 6
    assert len(b) == 4
    assert {e.idempotency_key for e in a}.isdisjoint(e.idempotency_key for e in b)
    assert second.claim("usageTrack", 6, now) == []


def test_an_expired_lease_lets_another_process_deliver_the_event(durable_path: str) -> None:
    crashed = make("sqlite", durable_path, lease=0.05)
    fill(crashed, 2)
    claimed = crashed.claim("usageTrack", 10, time.time())
    assert len(claimed) == 2
    survivor = make("sqlite", durable_path)
    assert survivor.claim("usageTrack", 10, time.time()) == []
    later = survivor.claim("usageTrack", 10, time.time() + 0.1)
    assert [e.idempotency_key for e in later] == ["key-0", "key-1"]
    assert [e.attempts for e in later] == [1, 1]  # the crashed process tried once
    # The crashed owner's late answer no longer settles rows it lost.
    assert crashed.settle(claimed, [], []).delivered == 0
    assert survivor.settle(later, [], []).delivered == 2
    assert survivor.pending() == 0


def test_dead_letters_stay_in_the_file_and_the_count_survives_a_reopen(durable_path: str) -> None:
    store = make("sqlite", durable_path, max_pending=100)
    fill(store, 3)
    claimed = store.claim("usageTrack", 10, time.time())
    store.settle([claimed[0]], [claimed[1]], [(claimed[2], "no customer 'cus_x'")])
    store.close()
    reopened = make("sqlite", durable_path, max_pending=100)
    assert reopened.pending() == 1
    (dead,) = reopened.dead_letters()
    assert dead.event.idempotency_key == "key-2"
    assert dead.error == "no customer 'cus_x'"
    (left,) = reopened.claim("usageTrack", 10, time.time())
    assert left.idempotency_key == "key-1"


def test_the_bound_counts_events_that_left_by_every_way() -> None:
    store = MemoryStore(4, drop_oldest=False)
    fill(store, 4)
    delivered, retried, dead = (store.claim("usageTrack", 1, time.time()) for _ in range(3))
    store.settle(delivered, retried, [(dead[0], "no customer")])
    fill(store, 2, start=4)  # room for the delivered and the dead one, not for the retried one
    with pytest.raises(errors.OutboxFullError):
        fill(store, 1, start=6)
    assert store.pending() == 4
    assert [e.body["value"] for e in store.claim("usageTrack", 10, time.time())] == [1, 3, 4, 5]


def test_a_waiting_event_is_not_tracked_by_the_garbage_collector() -> None:
    # A tracked event stays in the collector's generations while it waits, and each collection walks
    # them all: with a backlog, every enqueue paid for it.
    import gc

    store = MemoryStore(100, drop_oldest=False)
    store.add("balancesTrack", {"customer_id": "cus_1", "value": 2, "timestamp": 1}, "key-1", time.time())
    gc.collect()
    (waiting,) = store._queues["balancesTrack"]
    assert not gc.is_tracked(waiting)
    (event,) = store.claim("balancesTrack", 1, time.time())
    assert event.body == {"customer_id": "cus_1", "value": 2, "timestamp": 1}
    assert (event.idempotency_key, event.attempts) == ("key-1", 0)


def test_retried_events_go_back_to_the_front_in_order() -> None:
    store = MemoryStore(100, drop_oldest=False)
    fill(store, 4)
    claimed = store.claim("usageTrack", 3, time.time())
    store.settle([], claimed, [])
    assert [e.body["value"] for e in store.claim("usageTrack", 10, time.time())] == [0, 1, 2, 3]


def test_a_durable_store_commits_what_it_buffered_within_its_interval(durable_path: str) -> None:
    store = SqliteStore(durable_path, 100, False, 30.0, commit_interval=0.01)
    store.add("usageTrack", {"value": 1}, "key-1", time.time())
    other = SqliteStore(durable_path, 100, False, 30.0)
    deadline = time.monotonic() + 5
    while not other.claim("usageTrack", 10, time.time()) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert time.monotonic() < deadline
    store.close()


def test_commit_interval_zero_commits_before_add_returns(durable_path: str) -> None:
    store = SqliteStore(durable_path, 2, False, 30.0, commit_interval=0)
    store.add("usageTrack", {"value": 1}, "key-1", time.time())
    store.add("usageTrack", {"value": 2}, "key-2", time.time())
    with pytest.raises(errors.OutboxFullError):
        store.add("usageTrack", {"value": 3}, "key-3", time.time())
    other = SqliteStore(durable_path, 100, False, 30.0)
    assert [e.idempotency_key for e in other.claim("usageTrack", 10, time.time())] == ["key-1", "key-2"]


def test_the_leases_of_a_dead_process_of_this_host_are_released_when_the_file_is_opened(
    durable_path: str,
) -> None:
    import subprocess
    import sys

    store = make("sqlite", durable_path, max_pending=100)
    fill(store, 2)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = f"{socket.gethostname()}:{int(dead.stdout)}:abcd1234"
    store.owner = owner  # claim as the process that has exited
    assert len(store.claim("usageTrack", 10, time.time())) == 2
    reopened = make("sqlite", durable_path, max_pending=100)
    assert [e.idempotency_key for e in reopened.claim("usageTrack", 10, time.time())] == ["key-0", "key-1"]


def test_the_leases_of_a_live_process_are_kept_when_the_file_is_opened(durable_path: str) -> None:
    store = make("sqlite", durable_path, max_pending=100)
    fill(store, 2)
    assert len(store.claim("usageTrack", 10, time.time())) == 2
    reopened = make("sqlite", durable_path, max_pending=100)
    assert reopened.claim("usageTrack", 10, time.time()) == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_event_being_delivered_still_counts_as_the_oldest_waiting(kind: str, durable_path: str) -> None:
    store = make(kind, durable_path)
    fill(store, 2)
    queued_at = store.oldest_pending()
    claimed = store.claim("usageTrack", 10, time.time())
    assert len(claimed) == 2
    assert store.pending() == 2
    assert store.oldest_pending() == queued_at  # in flight during an outage is still waiting
    store.settle(claimed, [], [])
    assert (store.pending(), store.oldest_pending()) == (0, None)
    store.close()


def test_a_durable_store_finds_its_operations_and_claims_a_batch_by_index_seeks(durable_path: str) -> None:
    store = SqliteStore(durable_path, 10_000, False, 30.0)
    try:
        for i in range(1_500):
            operation = ("balancesTrack", "usageTrack")[i % 2]
            store.add(operation, {"customer_id": "cus_1", "value": i}, f"key-{i}", time.time())
        store.commit()
        db = store._db()  # pyright: ignore[reportPrivateUsage]
        statements: list[str] = []
        db.set_trace_callback(statements.append)
        assert sorted(store.operations(time.time())) == ["balancesTrack", "usageTrack"]
        db.set_trace_callback(None)
        [statement] = statements
        plan = " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement.replace("?", "0")))
        assert "SCAN events" not in plan
        assert "SEARCH events USING COVERING INDEX events_waiting" in plan
        claimed = store.claim("usageTrack", 1_000, time.time())
        assert [e.idempotency_key for e in claimed] == [f"key-{i}" for i in range(1, 1_500, 2)]
        assert store.claim("usageTrack", 1_000, time.time()) == []  # all under this process's lease
        assert store.settle(claimed, [], []).delivered == 750
        assert store.operations(time.time()) == ["balancesTrack"]
    finally:
        store.close()


def test_a_durable_store_notices_a_fork_at_its_next_event(durable_path: str) -> None:
    store = SqliteStore(durable_path, 100, False, 30.0)
    try:
        owner = store.owner
        store_module._count_fork()  # what `os.register_at_fork` runs in a forked child
        store.add("usageTrack", {"customer_id": "cus_1"}, "key-1", time.time())
        assert store.owner != owner  # the child's own lease owner, connections and buffer
        store.commit()
        assert store.pending() == 1
    finally:
        store.close()
