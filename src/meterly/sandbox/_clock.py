"""`SandboxClock`: the engine's notion of now, which tests can move instead of sleeping."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional


class SandboxClock:
    """Wall-clock time plus an offset a test controls; `freeze()` stops it, `advance()` moves it.

    Times are Unix epoch seconds (`time()`) or milliseconds (`now_ms()`, the unit of the API's
    `next_reset_at` and `resets_at`).
    """

    def __init__(
        self,
        start: Optional[float] = None,
        *,
        frozen: bool = False,
        now: Optional[Callable[[], float]] = None,
    ):
        self._source: Callable[[], float] = now or time.time
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - self._source()
        self._frozen_at: Optional[float] = None
        if frozen:
            self._frozen_at = self._source() if start is None else start

    def time(self) -> float:
        """Now, in epoch seconds."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._source() + self._offset

    def now_ms(self) -> int:
        """Now, in epoch milliseconds."""
        return round(self.time() * 1000)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value) by `seconds`."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def set(self, epoch_seconds: float) -> None:
        """Jump to `epoch_seconds`; a frozen clock stays frozen there."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = epoch_seconds
            else:
                self._offset = epoch_seconds - self._source()

    def freeze(self) -> None:
        """Stop the clock where it is; only `advance` and `set` move it from now on."""
        now = self.time()
        with self._lock:
            self._frozen_at = now

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._source()
                self._frozen_at = None

    @property
    def frozen(self) -> bool:
        """Whether the clock only moves when told to."""
        return self._frozen_at is not None

    def __repr__(self) -> str:
        return f"SandboxClock(now_ms={self.now_ms()}, frozen={self.frozen})"
