"""`Faults`: knobs that make the sandbox slow, flaky or down, to test fail-open and retry handling."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Faults:
    """What goes wrong, and how often. Change the fields at any time; every front end reads them per request.

    - `latency_ms`: added before each answer (a client whose read timeout is shorter sees a timeout).
    - `error_rate`: the share of requests (0..1) answered `error_status` without being processed.
    - `outage`: every request is answered `error_status` without being processed.
    - `fail_next(n)`: the next n requests are answered `error_status` without being processed.
    - `drop_next(n)`: the next n requests are processed (usage is recorded) but their answers are lost:
      the connection closes before a response, as when a network drops mid-flight.
    - `error_status=429` makes those failures rate limits: each service's own code
      (`rate_limit_exceeded` for Autumn, `rate_limited` for Commet) and `Retry-After: retry_after_s`.
    - `degraded`: Autumn's balances.check answers 202, allowed, without reading or recording balances:
      the service's own fail-open while it is degraded.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    outage: bool = False
    retry_after_s: float = 1.0
    degraded: bool = False
    seed: Optional[int] = None
    _fail_pending: int = field(default=0, repr=False)
    _drop_pending: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _random: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    def fail_next(self, count: int = 1) -> None:
        """Answer the next `count` requests with `error_status`, before they are processed."""
        with self._lock:
            self._fail_pending += count

    def drop_next(self, count: int = 1) -> None:
        """Process the next `count` requests but lose their answers (the connection closes)."""
        with self._lock:
            self._drop_pending += count

    def clear(self) -> None:
        """Back to a healthy sandbox: no latency, no errors, no outage, nothing pending."""
        with self._lock:
            self.latency_ms = 0.0
            self.error_rate = 0.0
            self.outage = False
            self.degraded = False
            self._fail_pending = 0
            self._drop_pending = 0

    def take_failure(self) -> bool:
        """Whether this request fails before processing (outage, a pending failure, or the error rate)."""
        with self._lock:
            if self.outage:
                return True
            if self._fail_pending > 0:
                self._fail_pending -= 1
                return True
            return self.error_rate > 0 and self._random.random() < self.error_rate

    def take_drop(self) -> bool:
        """Whether this request's answer is lost."""
        with self._lock:
            if self._drop_pending > 0:
                self._drop_pending -= 1
                return True
            return False

    @property
    def latency_seconds(self) -> float:
        return max(0.0, self.latency_ms) / 1000
