"""Idempotency keys: one random UUID4 per call, sent unchanged on every retry of it."""

from __future__ import annotations

import os
from typing import List

__all__ = ["new_idempotency_key"]

_RANDOM_READ = 4096
_random_blocks: List[bytes] = []
"""16-byte blocks of one `os.urandom` read, each used for one key (list.pop hands a block to one thread)."""


def new_idempotency_key() -> str:
    """A random UUID4 string, as `str(uuid.uuid4())` gives, at a fraction of its cost.

    The randomness is `os.urandom`'s, read 4 KiB at a time: one system call per 256 keys. Inside a busy
    event loop a system call costs several times what a microbenchmark shows (the code after it runs
    with cold caches). A forked child drops the blocks it inherited, so parent and child never share keys.
    """
    try:
        block = _random_blocks.pop()
    except IndexError:
        data = os.urandom(_RANDOM_READ)
        _random_blocks.extend([data[i : i + 16] for i in range(16, _RANDOM_READ, 16)])
        block = data[:16]
    h = block.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random_blocks.clear)
