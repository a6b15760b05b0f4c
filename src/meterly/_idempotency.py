"""Idempotency keys: one random UUID4 per call, sent unchanged on every retry of it."""

from __future__ import annotations

import itertools
import os
from typing import Any, Iterator, List, Tuple

__all__ = ["fill_keys", "keys_ready", "new_idempotency_key"]

_FIRST_READ = 4096
_MOST_READ = 65_536
"""Randomness read by one `os.urandom` call: 4 KiB (256 keys) at first, twice as much at each read after
it up to 64 KiB (4,096 keys). A process that makes a few calls reads little (64 KiB take 0.2 ms); one
that queues thousands of events reads rarely."""
_KEYS_READ = 4096
"""Randomness read by one `os.urandom` call of `fill_keys`: 256 keys' worth."""
_random: List[Any] = []
"""The last read and the index of its next unused 16-byte block (`next` hands each index to one thread);
empty before the first read."""
_reads: List[int] = []
"""The sizes of the first reads (while they still grow)."""
_ready_keys: List[str] = []
"""Keys built ahead by `fill_keys` (a background thread's work), handed out first."""


def new_idempotency_key() -> str:
    """A random UUID4 string, as `str(uuid.uuid4())` gives, at a fraction of its cost.

    A key built ahead by `fill_keys` is handed out first: then the call makes no system call. Otherwise
    the randomness is `os.urandom`'s, read up to 64 KiB at a time: one system call per 4,096 keys. Inside
    a busy event loop a system call costs several times what a microbenchmark shows (the code after it
    runs with cold caches); among threads, `os.urandom` gives up the GIL, and winning it back can take the
    interpreter's whole switch interval (5 ms) while other threads run. A forked child drops the keys and
    randomness it inherited, so parent and child never share keys.
    """
    try:
        return _ready_keys.pop()
    except IndexError:
        pass
    try:
        data, taken = _random
    except ValueError:  # nothing read yet
        data, taken = _read_random()
    at = 16 * next(taken)
    if at >= len(data):
        data, taken = _read_random()
        at = 16 * next(taken)
    return _format(data[at : at + 16].hex())


def _read_random() -> Tuple[bytes, Iterator[int]]:
    size = min(_FIRST_READ << len(_reads), _MOST_READ)
    if size < _MOST_READ:
        _reads.append(size)
    read = (os.urandom(size), itertools.count())
    _random[:] = read
    return read


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


_FORGET_AFTER_FORK = (_random.clear, _reads.clear, _ready_keys.clear)
"""What a forked child forgets. Bound methods of the lists, not a function of this module: a function
registered with `os.register_at_fork` would keep this module's globals, and everything they reach, alive
through the interpreter's shutdown (about 20 ms more at every exit)."""

if hasattr(os, "register_at_fork"):
    for forget in _FORGET_AFTER_FORK:
        os.register_at_fork(after_in_child=forget)
