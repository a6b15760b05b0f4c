"""Idempotency keys (`meterly._idempotency`)."""

from __future__ import annotations

import os
import threading
import uuid
from typing import List

import pytest

from meterly import _idempotency as idempotency
from meterly._idempotency import _FORGET_AFTER_FORK, _ready_keys, fill_keys, new_idempotency_key


def forget_after_fork() -> None:
    """What `os.register_at_fork` runs in a forked child."""
    for forget in _FORGET_AFTER_FORK:
        forget()


def test_a_key_is_a_version_4_uuid_string() -> None:
    key = new_idempotency_key()
    parsed = uuid.UUID(key)
    assert (str(parsed), parsed.version, parsed.variant) == (key, 4, uuid.RFC_4122)


def test_keys_do_not_repeat_across_many_reads_of_randomness(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: List[int] = []
    read = os.urandom

    def urandom(size: int) -> bytes:
        reads.append(size)
        return read(size)

    monkeypatch.setattr(os, "urandom", urandom)
    forget_after_fork()  # start from an empty read
    keys = [new_idempotency_key() for _ in range(10_000)]
    assert len(set(keys)) == len(keys)
    assert all(uuid.UUID(key).version == 4 for key in keys)
    # 256 keys from the first read, twice as many from each next one, then 4,096 a system call.
    assert reads == [4096, 8192, 16_384, 32_768, 65_536, 65_536]


def test_threads_taking_keys_at_once_never_get_the_same_key() -> None:
    forget_after_fork()
    taken: List[List[str]] = [[] for _ in range(8)]

    def take(mine: List[str]) -> None:
        mine.extend(new_idempotency_key() for _ in range(3_000))

    threads = [threading.Thread(target=take, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [key for mine in taken for key in mine]
    assert len(set(every)) == len(every) == 24_000


def test_keys_built_ahead_are_version_4_uuids_each_handed_out_once() -> None:
    fill_keys(600)
    keys = [new_idempotency_key() for _ in range(600)]
    assert len(set(keys)) == 600
    assert all(uuid.UUID(key).version == 4 and str(uuid.UUID(key)) == key for key in keys)


def test_a_forked_child_forgets_the_keys_built_ahead_and_the_randomness_read() -> None:
    fill_keys(10)
    new_idempotency_key()
    _ready_keys.clear()
    new_idempotency_key()  # reads randomness
    fill_keys(10)
    forget_after_fork()
    assert not _ready_keys
    assert not idempotency._random
    assert not idempotency._reads
