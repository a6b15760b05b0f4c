"""Idempotency keys: one random UUID4 per call, sent unchanged on every retry of it."""

from __future__ import annotations

import itertools
import os
from typing import Iterator, List, Tuple

__all__ = ["fill_keys", "keys_ready", "new_idempotency_key"]

_FIRST_READ = 4096
_MOST_READ = 65_536
"""Randomness read by one `os.urandom` call: 4 KiB (256 keys) at first, twice as much at each read after
it up to 64 KiB (4,096 keys). A process that makes a few calls reads little (64 KiB take 0.2 ms); one
that queues thousands of events reads rarely."""
_read_size = _FIRST_READ
_KEYS_READ = 4096
"""Randomness read by one `os.urandom` call of `fill_keys`: 256 keys' worth."""
_random: Tuple[bytes, Iterator[int]] = (b"", itertools.count())
"""The last read, and the index of its next unused 16-byte block (`next` hands each index to one thread)."""
_ready_keys: List[str] = []
"""Keys built ahead by `fill_keys` (a background thread's work), handed out first."""


def new_idempotency_key() -> str:
    """A random UUID4 string, as `str(uuid.uuid4())` gives, at a fraction of its cost.

    A key built ahead by `fill_keys` is handed out first: then the call makes no system call. Otherwise
    the randomness is `os.urandom`'s, read up to 64 KiB at a time: one system call per 4,096 keys. Inside a
    busy event loop a system call costs several times what a microbenchmark shows (the code after it runs
    with cold caches); among threads, `os.urandom` gives up the GIL, and winning it back can take the
    interpreter's whole switch interval (5 ms) while other threads run. A forked child drops the keys and
    randomness it inherited, so parent and child never share keys.
    """
    try:
        return _ready_keys.pop()
    except IndexError:
        pass
    data, taken = _random
    at = 16 * next(taken)
    if at >= len(data):
        data, taken = _read_random()
        at = 16 * next(taken)
    return _format(data[at : at + 16].hex())


def _read_random() -> Tuple[bytes, Iterator[int]]:
    global _random, _read_size
    _random = (os.urandom(_read_size), itertools.count())
    _read_size = min(2 * _read_size, _MOST_READ)
    return _random


def _format(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def fill_keys(at_least: int) -> None:
    """Build keys ahead until at least `at_least` wait (`os.urandom` read here, 4 KiB at a time), so that
    `new_idempotency_key` makes no system call on its caller's thread (the outbox's sender calls it)."""
    while len(_ready_keys) < at_least:
        h = os.urandom(_KEYS_READ).hex()
        _ready_keys.extend([_format(h[i : i + 32]) for i in range(0, 2 * _KEYS_READ, 32)])


def keys_ready() -> int:
    """How many keys built ahead wait to be handed out."""
    return len(_ready_keys)


def _forget_after_fork() -> None:
    global _random, _read_size
    _random = (b"", itertools.count())
    _read_size = _FIRST_READ
    _ready_keys.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
