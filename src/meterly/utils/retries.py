"""The retry policy: its configuration and the pure decision of whether, and how long, to wait."""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

import httpx

from meterly.errors import RequestValidationError, shown

__all__ = [
    "DEFAULT_RETRY_CONFIG",
    "RETRYABLE_STATUS_CODES",
    "BackoffStrategy",
    "RetryConfig",
    "backoff_delay",
    "retry_after_seconds",
    "retry_delay",
]

RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another attempt; every other 4xx is the caller's to fix."""


def _is_number_at_least(value: object, low: float) -> bool:
    """True for an int or float (not a bool) that is finite (as a float too) and at least `low`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and value >= low
    except OverflowError:  # an int too large for a float
        return False


@dataclass(frozen=True)
class BackoffStrategy:
    """Jittered exponential backoff; every interval is in milliseconds.

    `max_elapsed_time` is the deadline of the whole call: no wait starts that would end past it, and
    every attempt after the first is cut to what is left of it. The first attempt keeps its own timeout,
    so a call ends within the longer of `max_elapsed_time` and that timeout.
    """

    initial_interval: int = 100
    max_interval: int = 500
    exponent: float = 2.0
    max_elapsed_time: int = 1_500

    def __post_init__(self) -> None:
        for name in ("initial_interval", "max_interval", "max_elapsed_time"):
            if not _is_number_at_least(getattr(self, name), 0):
                raise RequestValidationError(
                    f"BackoffStrategy.{name}",
                    f"must be a finite number >= 0, got {shown(getattr(self, name))}",
                )
        if not _is_number_at_least(self.exponent, 1):
            raise RequestValidationError(
                "BackoffStrategy.exponent", f"must be a finite number >= 1, got {shown(self.exponent)}"
            )


@dataclass(frozen=True)
class RetryConfig:
    """When to try a call again: Speakeasy's shape, so existing configurations carry over.

    Build it by keywords: `RetryConfig(backoff=BackoffStrategy(...), max_retries=2)`.
    """

    strategy: Literal["backoff"] = "backoff"
    """The only strategy: jittered exponential backoff."""
    backoff: BackoffStrategy = field(default_factory=BackoffStrategy)
    """The waits between attempts and the time budget of a call, in milliseconds."""
    retry_connection_errors: bool = True
    """Whether a call that got no response (refused, reset, timed out) is tried again."""
    max_retries: Optional[int] = None
    """At most this many retries after the first attempt (0: none); None: as many as the budget allows."""

    def __post_init__(self) -> None:
        if self.strategy != "backoff":
            raise RequestValidationError(
                "RetryConfig.strategy", f"must be 'backoff', got {shown(self.strategy)}"
            )
        if not isinstance(self.backoff, BackoffStrategy):
            raise RequestValidationError(
                "RetryConfig.backoff", f"must be a BackoffStrategy, got {type(self.backoff).__name__}"
            )
        if not isinstance(self.retry_connection_errors, bool):
            raise RequestValidationError(
                "RetryConfig.retry_connection_errors",
                f"must be a bool, got {type(self.retry_connection_errors).__name__}",
            )
        count = self.max_retries
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise RequestValidationError(
                "RetryConfig.max_retries", f"must be an int >= 0 or None, got {shown(count)}"
            )


DEFAULT_RETRY_CONFIG = RetryConfig()
"""On by default and sized for the hot path of someone else's request: 100 ms doubling to at most
500 ms between attempts, the whole call within 1.5 s (with the 1 s attempt timeout, never more than 2 s)."""


def backoff_delay(backoff: BackoffStrategy, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): half fixed, half random."""
    try:
        grown = backoff.initial_interval * backoff.exponent ** (attempt - 1)
    except OverflowError:  # a large exponent after many attempts: past any max_interval
        grown = math.inf
    base_ms = min(float(backoff.max_interval), grown)
    return (base_ms / 2 + rand() * base_ms / 2) / 1000


def retry_after_seconds(headers: httpx.Headers, now: Callable[[], float] = time.time) -> Optional[float]:
    """The wait a response asks for, from `retry-after-ms` or `Retry-After` (seconds or HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            ms = float(value)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:  # pragma: no cover - older Pythons returned None for bad dates
            return None
        return max(0.0, when.timestamp() - now())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retry_delay(
    config: Optional[RetryConfig],
    attempt: int,
    elapsed: float,
    *,
    retryable: bool,
    requested: Optional[float] = None,
    rand: Callable[[], float] = random.random,
) -> Optional[float]:
    """Seconds to wait before the next attempt, or None to give up now.

    `elapsed` is the seconds since the call started and `requested` the wait the server asked for.
    A wait that would end past `max_elapsed_time` is never started: the call gives up at once instead.
    """
    if config is None or not retryable:
        return None
    if config.max_retries is not None and attempt > config.max_retries:
        return None
    delay = requested if requested is not None else backoff_delay(config.backoff, attempt, rand)
    if elapsed + delay > config.backoff.max_elapsed_time / 1000:
        return None
    return delay
