"""Idempotency keys (`meterly._idempotency`)."""

from __future__ import annotations

import uuid

from meterly._idempotency import new_idempotency_key


def test_a_key_is_a_version_4_uuid_string() -> None:
    key = new_idempotency_key()
    parsed = uuid.UUID(key)
    assert (str(parsed), parsed.version, parsed.variant) == (key, 4, uuid.RFC_4122)


def test_keys_do_not_repeat_across_many_reads_of_randomness() -> None:
    keys = [new_idempotency_key() for _ in range(2_000)]  # several 4 KiB reads
    assert len(set(keys)) == len(keys)
