"""`Outbox`: how a client's usage outbox stores, bounds and delivers events (read-only once built)."""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Literal, Optional, Union

from meterly.errors import RequestValidationError, shown

OnFull = Literal["raise", "drop_oldest"]
OnRejected = Callable[[Any, BaseException], None]
"""Called with the `DeadLetter`'s event and the service's error, once per rejected event."""


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestValidationError(name, f"must be a positive int, got {shown(value)}")
    return value


def _ms(name: str, value: object, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestValidationError(name, f"must be a finite number of milliseconds, got {shown(value)}")
    if value < 0 or (value == 0 and not allow_zero):
        raise RequestValidationError(
            name, f"must be {'at least' if allow_zero else 'more than'} 0, got {value}"
        )
    return float(value)


class Outbox:
    """The usage outbox of a client: `Meterly(outbox=Outbox(...))`, or `outbox=True` for the defaults.

    Args:
        path: A SQLite file to keep events in (created when missing; shared safely by every process and
            thread that opens it). None keeps them in memory: lost if the process crashes.
        max_pending: The most events it holds (waiting or being delivered) before `on_full` applies.
        on_full: "raise" refuses a new event with `errors.OutboxFullError`; "drop_oldest" drops the
            oldest waiting event to make room, counting and logging each drop.
        on_rejected: Called once per event the service refuses (`(dead_letter, error)`), from the
            sender; an exception it raises is logged and ignored.
        close_timeout_ms: How long `close()` spends delivering what is left before it returns.
        batch_size: The most events of one operation sent together (Autumn's `batch_track` takes 1,000).
        retry_initial_ms, retry_max_ms: The first and the longest wait before retrying after a failed
            delivery; waits double in between, with jitter, and `Retry-After` is honoured.
        synchronous: "normal" (the default) or "full": when a durable file's commits reach the disk (see
            `README.md`, "Recording usage without waiting"): "full" survives a power cut, at an fsync per
            event.
        commit_interval_ms: How long a durable outbox gathers queued events before it commits them to its
            file in one transaction (a `kill -9` can cost the events of that interval); 0 commits each
            event before the call that queued it returns.
        lease_ms: How long a process may hold a claimed event before another process may deliver it (a
            durable file only): longer than any one delivery takes.
    """

    __slots__ = (
        "batch_size",
        "close_timeout_ms",
        "commit_interval_ms",
        "lease_ms",
        "max_pending",
        "on_full",
        "on_rejected",
        "path",
        "retry_initial_ms",
        "retry_max_ms",
        "synchronous",
    )

    path: Optional[str]
    max_pending: int
    on_full: OnFull
    on_rejected: Optional[OnRejected]
    close_timeout_ms: float
    batch_size: int
    retry_initial_ms: float
    retry_max_ms: float
    lease_ms: float
    commit_interval_ms: float
    synchronous: Literal["normal", "full"]

    def __init__(
        self,
        *,
        path: Union[str, os.PathLike[str], None] = None,
        max_pending: int = 100_000,
        on_full: OnFull = "raise",
        on_rejected: Optional[OnRejected] = None,
        close_timeout_ms: float = 2000,
        batch_size: int = 1000,
        retry_initial_ms: float = 250,
        retry_max_ms: float = 30_000,
        lease_ms: float = 30_000,
        commit_interval_ms: float = 5,
        synchronous: Literal["normal", "full"] = "normal",
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise RequestValidationError("path", f"must be a str or os.PathLike, got {type(path).__name__}")
        if on_full not in ("raise", "drop_oldest"):
            raise RequestValidationError("on_full", f'must be "raise" or "drop_oldest", got {shown(on_full)}')
        if on_rejected is not None and not callable(on_rejected):
            raise RequestValidationError("on_rejected", "must be a callable taking (dead_letter, error)")
        set_ = object.__setattr__
        set_(self, "path", None if path is None else os.fspath(path))
        set_(self, "max_pending", _positive_int("max_pending", max_pending))
        set_(self, "on_full", on_full)
        set_(self, "on_rejected", on_rejected)
        set_(self, "close_timeout_ms", _ms("close_timeout_ms", close_timeout_ms))
        set_(self, "batch_size", min(_positive_int("batch_size", batch_size), 1000))
        set_(self, "retry_initial_ms", _ms("retry_initial_ms", retry_initial_ms, allow_zero=False))
        set_(
            self,
            "retry_max_ms",
            max(_ms("retry_max_ms", retry_max_ms, allow_zero=False), self.retry_initial_ms),
        )
        if synchronous not in ("normal", "full"):
            raise RequestValidationError(
                "synchronous", f'must be "normal" or "full", got {shown(synchronous)}'
            )
        set_(self, "synchronous", synchronous)
        set_(self, "commit_interval_ms", _ms("commit_interval_ms", commit_interval_ms))
        set_(self, "lease_ms", _ms("lease_ms", lease_ms, allow_zero=False))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Outbox is read-only: build a new one to change {name!r}")

    @property
    def durable(self) -> bool:
        """True when events are kept in a SQLite file."""
        return self.path is not None

    def __repr__(self) -> str:
        return (
            f"Outbox(path={self.path!r}, max_pending={self.max_pending}, on_full={self.on_full!r}, "
            f"close_timeout_ms={self.close_timeout_ms:g})"
        )


def outbox_config(value: object) -> Optional[Outbox]:
    """The `outbox=` argument of a client as an `Outbox`: True is the in-memory default, False/None none."""
    if value is None or value is False:
        return None
    if value is True:
        return Outbox()
    if isinstance(value, Outbox):
        return value
    raise RequestValidationError("outbox", "must be True, False, None or a meterly.Outbox")
