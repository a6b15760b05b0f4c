"""The enqueue path on the caller's thread makes no system call and takes no lock in the common case (a
sender busy or in backoff, a durable writer between commits): each would give up the GIL, and with
several threads queueing, winning it back can take the interpreter's whole switch interval (5 ms).

Every C function and every Python function the caller's thread runs during the enqueues is recorded
(`sys.setprofile`), and none may be a system call, a lock, a `threading` primitive, SQLite or a JSON
encoding."""

from __future__ import annotations

# The tests wait for the sender's and the writer's own states before measuring.
# pyright: reportPrivateUsage=false
import sys
import threading
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from datetime import datetime, timezone
from types import FrameType
from typing import Any

import pytest

from meterly import models
from meterly._idempotency import _ready_keys, fill_keys, keys_ready, new_idempotency_key
from meterly.outbox import RETRY, ClientOutbox, Outbox, Outcome
from meterly.outbox._client import queued
from meterly.outbox._sender import KEYS_AHEAD, TOP_UP_SECONDS, KeyReserve
from meterly.outbox._store import SqliteStore

from .conftest import Recorder

BOTH = {"balancesTrack", "usageTrack"}
FORBIDDEN_MODULES = ("posix", "_thread", "threading", "_sqlite3", "sqlite3", "_json", "json", "socket")
FORBIDDEN_C_NAMES = ("urandom", "getpid", "sleep", "acquire", "release", "set", "wait", "notify")


@contextmanager
def calls_made() -> Generator[list[tuple[str, str]], None, None]:
    """Every function this thread calls meanwhile: (module or owner type, name) of a C function, (file,
    name) of a Python one."""
    seen: list[tuple[str, str]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            owner = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__name__
            seen.append((str(owner), arg.__name__))
        elif event == "call":
            seen.append((frame.f_code.co_filename, frame.f_code.co_name))

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


FORBIDDEN_FILES = ("threading.py", "encoder.py", "uuid.py", "socket.py", "sqlite3/__init__.py")


def forbidden(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The calls that are a system call, a lock, a `threading` primitive, SQLite or a JSON encoding."""
    return [
        (where, name)
        for where, name in seen
        if where.endswith(FORBIDDEN_FILES)
        or where in FORBIDDEN_MODULES
        or "lock" in where.lower()
        or "sqlite" in where.lower()
        or name in FORBIDDEN_C_NAMES
    ]


def enqueue(box: ClientOutbox, n: int) -> None:
    for i in range(n):
        box.balances.track(customer_id="cus_1", feature_id="api_calls", value=i)
        box.usage.track(customer_id="cus_1", feature_code="api_calls", value=i)


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_the_profile_sees_a_system_call_and_a_lock() -> None:
    # The check itself: what it must catch, it catches.
    lock = threading.Lock()
    with calls_made() as seen:
        import os

        os.urandom(16)
        with lock:
            pass
        threading.Event().set()
    bad = forbidden(seen)
    assert ("posix", "urandom") in bad
    assert any(where.endswith("threading.py") and name == "set" for where, name in bad)
    assert any(name == "__enter__" for _, name in bad)  # the lock


def test_an_in_memory_enqueue_with_the_sender_in_backoff_makes_no_system_call() -> None:
    config = Outbox(retry_initial_ms=60_000, retry_max_ms=60_000, close_timeout_ms=0)
    with ClientOutbox(None, config, deliver=Recorder(Outcome(RETRY))) as box:
        enqueue(box, 1)  # starts the sender, whose first deliveries fail: both operations back off
        wait_for(lambda: box.sender._sleeping and box.core.paused(time.time()) == BOTH)
        with calls_made() as seen:
            enqueue(box, 300)  # more than the keys of one 4 KiB read of randomness
        assert forbidden(seen) == []
        assert box.pending() == 602


def test_a_durable_enqueue_between_commits_makes_no_system_call(durable_path: str) -> None:
    config = Outbox(path=durable_path, commit_interval_ms=60_000, close_timeout_ms=0)
    box = ClientOutbox(None, config, deliver=Recorder(Outcome(RETRY)))
    try:
        enqueue(box, 1)  # starts the writer, which waits out its commit interval
        store = box.store
        assert isinstance(store, SqliteStore)
        wait_for(lambda: store._writer_thread is not None and not store._writer_idle)
        with calls_made() as seen:
            enqueue(box, 300)
        assert forbidden(seen) == []
        box.commit()
        assert box.pending() == 602
    finally:
        box.close()


def test_a_durable_event_is_encoded_by_the_writer_and_read_back_the_same(durable_path: str) -> None:
    recorder = Recorder()
    config = Outbox(path=durable_path, close_timeout_ms=0)
    with ClientOutbox(None, config, deliver=recorder) as box:
        sent = box.balances.track(
            customer_id="cus_1", feature_id="api_calls", value=2.5, properties={"a": [1, "b"]}
        )
        box.flush(timeout_ms=5_000)
    [event] = recorder.events
    assert event.idempotency_key == sent.idempotency_key
    assert dict(event.body) == {
        "customer_id": "cus_1",
        "feature_id": "api_calls",
        "value": 2.5,
        "properties": {"a": [1, "b"]},
        "timestamp": int(sent.enqueued_at.timestamp() * 1000),
    }


def test_keys_built_ahead_are_handed_out_without_reading_randomness(monkeypatch: pytest.MonkeyPatch) -> None:
    fill_keys(300)

    def refuse(n: int) -> bytes:
        raise AssertionError("os.urandom read on the caller's thread")

    monkeypatch.setattr("os.urandom", refuse)
    keys = {new_idempotency_key() for _ in range(300)}
    assert len(keys) == 300


def test_the_queued_answer_is_what_model_construct_builds() -> None:
    at = datetime(2026, 12, 3, tzinfo=timezone.utc)
    fast = queued("balancesTrack", "k-1", at)
    slow = models.Queued.model_construct(operation="balancesTrack", idempotency_key="k-1", enqueued_at=at)
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set
    fast.operation = "usageTrack"  # its own fields set, not a shared one
    assert queued("x", "k", at).model_fields_set == slow.model_fields_set


def test_commit_interval_ms_reaches_the_durable_store(durable_path: str) -> None:
    box = ClientOutbox(None, Outbox(path=durable_path, commit_interval_ms=250), deliver=Recorder())
    try:
        assert isinstance(box.store, SqliteStore)
        assert box.store.commit_interval == 0.25
    finally:
        box.close()


def test_keys_are_topped_up_while_the_sender_backs_off() -> None:
    config = Outbox(retry_initial_ms=60_000, retry_max_ms=60_000, close_timeout_ms=0)
    with ClientOutbox(None, config, deliver=Recorder(Outcome(RETRY))) as box:
        enqueue(box, 1)
        wait_for(lambda: box.sender._sleeping and box.core.paused(time.time()) == BOTH)
        while keys_ready():  # the app takes every key built ahead
            new_idempotency_key()
        # The sender, asleep for its 60 s backoff (5 s at most when idle), wakes within TOP_UP_SECONDS
        # to build them again.
        wait_for(lambda: keys_ready() >= KEYS_AHEAD, seconds=20 * TOP_UP_SECONDS)
        assert box.core.paused(time.time()) == BOTH  # still backing off: nothing was delivered


def test_the_sender_builds_ahead_twice_the_keys_the_app_took_since_its_last_turn() -> None:
    _ready_keys.clear()
    reserve = KeyReserve()
    assert reserve.top_up() is False
    assert keys_ready() == KEYS_AHEAD
    for _ in range(1_500):  # more than half of them
        new_idempotency_key()
    assert reserve.top_up() is True
    assert keys_ready() >= 3_000
    assert reserve.top_up() is False
