"""Idempotency keys (`meterly._idempotency`)."""

from __future__ import annotations

import uuid

from meterly._idempotency import _forget_after_fork, _ready_keys, fill_keys, new_idempotency_key


def test_a_key_is_a_version_4_uuid_string() -> None:
    key = new_idempotency_key()
    parsed = uuid.UUID(key)
    assert (str(parsed), parsed.version, parsed.variant) == (key, 4, uuid.RFC_4122)


def test_keys_do_not_repeat_across_many_reads_of_randomness() -> None:
    keys = [new_idempotency_key() for _ in range(2_000)]  # several 4 KiB reads
    assert len(set(keys)) == len(keys)


def test_keys_built_ahead_are_version_4_uuids_each_handed_out_once() -> None:
    fill_keys(600)
    keys = [new_idempotency_key() for _ in range(600)]
    assert len(set(keys)) == 600
    assert all(uuid.UUID(key).version == 4 and str(uuid.UUID(key)) == key for key in keys)


def test_a_forked_child_forgets_the_keys_built_ahead() -> None:
    fill_keys(10)
    _forget_after_fork()  # what `os.register_at_fork` runs in the child
    assert not _ready_keys
