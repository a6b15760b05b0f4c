"""`ClientOutbox` and `AsyncClientOutbox`: a client's `outbox` attribute. Queueing (checks, then one
store write) runs in the caller; delivery runs in the background sender."""

from __future__ import annotations

import atexit
import json
import logging
import os
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Dict, List, NamedTuple, Optional, Union

from meterly import errors, models
from meterly._config import is_header_safe
from meterly._idempotency import new_idempotency_key
from meterly._requester import AsyncRequester, Requester
from meterly.outbox._config import Outbox, outbox_config
from meterly.outbox._deliver import AsyncClientDeliverer, AsyncDeliver, ClientDeliverer, Deliver
from meterly.outbox._operations import BALANCES_TRACK, queued_operation, stamp
from meterly.outbox._resources import OutboxResources
from meterly.outbox._sender import SenderCore, TaskSender, ThreadSender
from meterly.outbox._store import DeadLetter, MemoryStore, SqliteStore

log = logging.getLogger("meterly")

_MAX_KEY_LENGTH = 255


_QUEUED_FIELDS = frozenset({"operation", "idempotency_key", "enqueued_at"})
_object_new = object.__new__
_object_setattr = object.__setattr__


def queued(operation: str, key: str, enqueued_at: datetime) -> models.Queued:
    """The `models.Queued` that `model_construct` would build, at a fraction of its cost (it loops over
    the model's fields and copies the values given): the answer of every enqueue."""
    answer = _object_new(models.Queued)
    _object_setattr(
        answer, "__dict__", {"operation": operation, "idempotency_key": key, "enqueued_at": enqueued_at}
    )
    _object_setattr(answer, "__pydantic_fields_set__", set(_QUEUED_FIELDS))
    _object_setattr(answer, "__pydantic_extra__", {})
    _object_setattr(answer, "__pydantic_private__", None)
    return answer


class OutboxStats(NamedTuple):
    """What an outbox holds and did, for metrics (the OpenTelemetry integration reads it)."""

    queued: int
    """Events this process queued."""
    delivered: int
    """Events this process's sender delivered."""
    rejected: int
    """Events this process's sender moved to the dead-letter list."""
    dropped: int
    """Events dropped: to make room (`on_full="drop_oldest"`), or left in memory at close."""
    pending: int
    """Events waiting or being delivered (for a durable outbox: in the whole file)."""
    oldest_pending_age: Optional[float]
    """Seconds since the oldest waiting event was queued (None: nothing waits)."""


def _store(config: Outbox) -> Union[MemoryStore, SqliteStore]:
    drop_oldest = config.on_full == "drop_oldest"
    if config.path is None:
        return MemoryStore(config.max_pending, drop_oldest)
    return SqliteStore(
        config.path,
        config.max_pending,
        drop_oldest,
        config.lease_ms / 1000,
        config.synchronous,
        config.commit_interval_ms / 1000,
    )


class _BaseOutbox(OutboxResources):
    """Queueing, counting and the store; the sync and async outboxes add their sender."""

    def __init__(self, config: Union[Outbox, bool, None]) -> None:
        resolved = outbox_config(config)
        if resolved is None:
            raise errors.RequestValidationError(
                "outbox", "must be True or a meterly.Outbox to build an outbox"
            )
        self.config = resolved
        self.store = _store(resolved)
        self.core = SenderCore(self.store, resolved)
        self.queued = 0
        self.closed = False
        if isinstance(self.store, SqliteStore):
            self.store.on_commit = self._on_commit
        self._bind_resources(self._enqueue)
        _live.add(self)

    def _enqueue(self, operation_id: str, given: Dict[str, Any], key: Optional[str]) -> models.Queued:
        # The caller's thread: no system call and no lock here (see docs/performance.md, "The usage
        # outbox"). Each would give up the GIL, and winning it back can take the interpreter's whole
        # switch interval (5 ms) while other threads queue.
        if self.closed:
            raise errors.RequestValidationError("outbox", "is closed")
        spec = queued_operation(operation_id)
        now = time.time()  # read from the vDSO: no system call
        for name in spec.required:
            if name not in given:
                raise errors.RequestValidationError(name, "is required")
        timestamp = given.get("timestamp")
        if timestamp is not None and spec.unix_ms and isinstance(timestamp, datetime):
            given["timestamp"] = int(timestamp.timestamp() * 1000)
        checks = spec.checks
        body: Dict[str, Any] = {}
        for name, value in given.items():
            found = checks.get(name)
            if found is None:
                raise errors.RequestValidationError(name, f"is not sent by this SDK version's {operation_id}")
            check, nested = found
            value = check(name, value)
            if nested:  # a copy the caller can no longer change, and proof that it is JSON
                try:  # no NaN nor infinity: the batch is sent strict JSON, as one direct `track` is
                    value = json.loads(json.dumps(value, allow_nan=False))
                except (TypeError, ValueError, RecursionError) as exc:
                    raise errors.RequestValidationError(name, f"must be JSON-serializable: {exc}") from None
            body[name] = value
        if timestamp is None:  # the moment it was queued, made here in the form the service reads
            body["timestamp"] = stamp(spec.unix_ms, now)
        if operation_id == BALANCES_TRACK and ("feature_id" in body) == ("event_name" in body):
            raise errors.RequestValidationError("feature_id", "give exactly one of feature_id and event_name")
        if key is None:
            key = new_idempotency_key()  # built ahead by the sender: no `os.urandom` here
        elif not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH or not is_header_safe(key):
            raise errors.RequestValidationError(
                "idempotency_key",
                "must be a non-empty ASCII str of at most 255 characters, no control characters",
            )
        self.store.add(operation_id, body, key, now)
        self.queued += 1
        self._wake(operation_id)
        return queued(operation_id, key, datetime.fromtimestamp(now, timezone.utc))

    def _wake(self, operation: str) -> None:
        raise NotImplementedError

    def _on_commit(self) -> None:
        self._wake("")

    def commit(self) -> None:
        """Write what this process queued to a durable outbox's file now, instead of within
        `commit_interval_ms` (nothing to do for an in-memory outbox)."""
        if isinstance(self.store, SqliteStore):
            self.store.commit()

    def pending(self) -> int:
        """Events waiting or being delivered (for a durable outbox, by every process using its file)."""
        return self.store.pending()

    def dead_letters(self) -> List[DeadLetter]:
        """The events the service refused, oldest first (from the file, for a durable outbox)."""
        return self.store.dead_letters()

    def stats(self) -> OutboxStats:
        """Counts and the oldest waiting event's age, for metrics."""
        oldest = self.store.oldest_pending()
        delivered, rejected, pending = self.core.counts()
        return OutboxStats(
            self.queued,
            delivered,
            rejected,
            self.store.dropped,
            pending,
            None if oldest is None else max(0.0, time.time() - oldest),
        )

    def _flushed(self, delivered: int, rejected: int) -> models.FlushResult:
        now_delivered, now_rejected, pending = self.core.counts()
        return models.FlushResult(
            delivered=now_delivered - delivered, pending=pending, rejected=now_rejected - rejected
        )

    def report_left(self) -> None:
        left = self.store.pending()
        if not left:
            return
        if self.store.durable:
            log.info(
                "meterly outbox: closed with %d events waiting in %s for the next process",
                left,
                self.config.path,
            )
        else:
            self.store.dropped += left
            log.warning(
                "meterly outbox: closed with %d undelivered events held in memory; they are dropped", left
            )

    def after_fork_in_child(self) -> None:
        self.store.after_fork_in_child()
        self.core.reset()
        self.queued = 0


class ClientOutbox(_BaseOutbox):
    """The outbox of a `Meterly`: a daemon thread delivers (a forked child starts its own)."""

    def __init__(
        self,
        client: Optional[Requester],
        config: Union[Outbox, bool, None] = True,
        *,
        deliver: Optional[Deliver] = None,
    ) -> None:
        super().__init__(config)
        if deliver is None:
            if client is None:
                raise errors.RequestValidationError("client", "a client or a deliver callable is required")
            deliver = ClientDeliverer(client)
        self.sender = ThreadSender(self.core, deliver)
        if self.store.durable and self.store.pending():
            self.sender.start()  # what an earlier process left

    def _wake(self, operation: str) -> None:
        if self.store.durable and operation:
            # The event is not in the file until the writer commits it, and the commit wakes the sender.
            self.sender.ensure_started()
        else:
            self.sender.wake(operation)

    def start(self) -> None:
        """Start the sender now rather than at the first event: it delivers what an earlier process left
        in a durable file (the framework integrations call it as the app starts)."""
        self.sender.start()

    def flush(self, timeout_ms: Optional[float] = None) -> models.FlushResult:
        """Deliver what waits, for at most `timeout_ms` (None: until nothing waits); retries at once."""
        core = self.core
        delivered, rejected = core.delivered, core.rejected
        deadline = None if timeout_ms is None else time.monotonic() + max(timeout_ms, 0) / 1000
        core.resume()
        self.commit()
        if self.store.pending():
            self.sender.wake()
        while core.counts()[2]:
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                break
            with core.changed:
                core.changed.wait(left)
        return self._flushed(delivered, rejected)

    def close(self) -> None:
        """Flush for at most `close_timeout_ms`, stop the sender and close the store. What is left stays in
        a durable file for the next process; an in-memory outbox logs how many events it drops."""
        if self.closed:
            return
        try:
            if self.store.pending():
                self.flush(self.config.close_timeout_ms)
        finally:
            self.closed = True
            self.sender.stop()
            self.report_left()
            self.store.close()

    def after_fork_in_child(self) -> None:
        super().after_fork_in_child()
        self.sender.after_fork_in_child()

    def __enter__(self) -> ClientOutbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClientOutbox(_BaseOutbox):
    """The outbox of an `AsyncMeterly`: an asyncio task delivers, on the loop that queued the first event."""

    def __init__(
        self,
        client: Optional[AsyncRequester],
        config: Union[Outbox, bool, None] = True,
        *,
        deliver: Optional[AsyncDeliver] = None,
    ) -> None:
        super().__init__(config)
        if deliver is None:
            if client is None:
                raise errors.RequestValidationError("client", "a client or a deliver callable is required")
            deliver = AsyncClientDeliverer(client)
        self.sender = TaskSender(self.core, deliver)

    def _wake(self, operation: str) -> None:
        self.sender.wake()

    def start(self) -> None:
        """Start the sender on the running event loop rather than at the first event: it delivers what an
        earlier process left in a durable file (the FastAPI lifespan calls it as the app starts)."""
        self.sender.wake()

    async def flush(self, timeout_ms: Optional[float] = None) -> models.FlushResult:
        """Deliver what waits, for at most `timeout_ms` (None: until nothing waits); retries at once."""
        import asyncio

        core = self.core
        delivered, rejected = core.delivered, core.rejected
        deadline = None if timeout_ms is None else time.monotonic() + max(timeout_ms, 0) / 1000
        core.resume()
        if isinstance(self.store, SqliteStore):
            await asyncio.to_thread(self.store.commit)
        self.sender.wake()  # on this loop, when the sender's loop is gone
        while await self._pending():
            left = 0.01 if deadline is None else min(0.01, deadline - time.monotonic())
            if left <= 0:
                break
            self.sender.wake()
            await asyncio.sleep(left)
        return self._flushed(delivered, rejected)

    async def _pending(self) -> int:
        if self.store.durable:
            import asyncio

            return (await asyncio.to_thread(self.core.counts))[2]
        return self.core.counts()[2]

    async def aclose(self) -> None:
        """Flush for at most `close_timeout_ms`, stop the sender and close the store (see `ClientOutbox`)."""
        if self.closed:
            return
        try:
            if await self._pending():
                await self.flush(self.config.close_timeout_ms)
        finally:
            self.closed = True
            await self.sender.stop()
            self.report_left()
            self.store.close()

    def after_fork_in_child(self) -> None:
        super().after_fork_in_child()
        self.sender.after_fork_in_child()

    async def __aenter__(self) -> AsyncClientOutbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_live: weakref.WeakSet[_BaseOutbox] = weakref.WeakSet()


def live_outboxes() -> List[Union[ClientOutbox, AsyncClientOutbox]]:
    """Every outbox of this process not yet closed (the OpenTelemetry integration observes them)."""
    return [
        box for box in list(_live) if isinstance(box, (ClientOutbox, AsyncClientOutbox)) and not box.closed
    ]


def _after_fork_in_child() -> None:
    for outbox in list(_live):
        outbox.after_fork_in_child()


def _close_at_exit() -> None:
    """A sync outbox left open gets its `close()` at interpreter exit: what it holds is flushed for at most
    `close_timeout_ms`, then kept (durable) or reported dropped (in memory), never lost silently."""
    for outbox in list(_live):
        if isinstance(outbox, ClientOutbox):
            try:
                outbox.close()
            except Exception:
                log.exception("meterly outbox: closing at exit failed")
        elif not outbox.closed:
            outbox.report_left()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
