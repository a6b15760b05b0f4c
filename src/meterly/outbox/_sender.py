"""The background sender: `SenderCore` decides what to send next and settles what came back (no I/O of
its own); `ThreadSender` drives it from a daemon thread (for `Meterly`), `TaskSender` from an asyncio
task (for `AsyncMeterly`).

Backoff is per operation: a failed batch means that service is down or throttling, so its next batch
waits (doubling from `retry_initial_ms` to `retry_max_ms`, with jitter, or the `Retry-After` asked
for) while another service's events keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from meterly._idempotency import fill_keys, keys_ready
from meterly.outbox._config import Outbox
from meterly.outbox._deliver import DELIVERED, REJECTED, AsyncDeliver, Deliver, Outcome
from meterly.outbox._store import DeadLetter, Event

log = logging.getLogger("meterly")

IDLE_POLL_SECONDS = 1.0
"""How often an idle sender of a durable outbox looks for events other processes left (a crashed one's,
once their lease ends)."""

Work = Tuple[str, List[Event]]

KEYS_AHEAD = 2048
"""Idempotency keys a sender builds ahead at least, at each turn of its loop, so that queueing an event
reads no randomness (`os.urandom` is a system call that gives up the GIL) on the app's thread."""
KEYS_MOST = 16_384
"""The most keys built ahead (about 1.4 MB), for an app queueing faster than `KEYS_AHEAD` a turn."""
TOP_UP_SECONDS = 0.1
"""How long a sender waiting out a backoff (or after the app took keys) sleeps at most: the app keeps
queueing meanwhile, and its keys are topped up."""


class KeyReserve:
    """Keeps enough idempotency keys built ahead for the app's next turn of queueing: twice what it took
    since the last turn, between `KEYS_AHEAD` and `KEYS_MOST`."""

    def __init__(self) -> None:
        self.level = 0

    def top_up(self) -> bool:
        """Build keys ahead; True when the app took some since the last top-up."""
        used = self.level - keys_ready()
        self.level = min(max(KEYS_AHEAD, 2 * used), KEYS_MOST)
        fill_keys(self.level)
        return used > 0


class SenderCore:
    """The sender's decisions and bookkeeping, shared by the thread and the task."""

    def __init__(self, store: Any, config: Outbox) -> None:
        self.store = store
        self.config = config
        self.delivered = 0
        self.rejected = 0
        self._failures: Dict[str, int] = {}
        self._paused_until: Dict[str, float] = {}
        self._random = random.Random()
        self.changed = threading.Condition()
        """Notified after every settled batch (flush waits on it). Held while a batch leaves the store and
        is counted, so that `counts` never sees an event gone from the pending ones and not yet counted
        delivered or rejected."""

    def reset(self) -> None:
        """A forked child's fresh state."""
        self.delivered = self.rejected = 0
        self._failures = {}
        self._paused_until = {}
        self.changed = threading.Condition()

    def counts(self) -> Tuple[int, int, int]:
        """(delivered, rejected, pending), read together."""
        with self.changed:
            return self.delivered, self.rejected, self.store.pending()

    def paused(self, now: float) -> FrozenSet[str]:
        """The operations waiting out a backoff: an event queued for one of them needs no wake-up."""
        return frozenset([op for op, until in list(self._paused_until.items()) if until > now])

    def resume(self) -> None:
        """Try every operation at once (a flush asked for it), whatever the backoff said."""
        self._paused_until.clear()

    def next_work(self, now: float) -> Tuple[Optional[Work], float]:
        """The next batch to send, or None and how long to wait before looking again."""
        paused = self._paused_until
        for operation in self.store.operations(now):
            if paused.get(operation, 0.0) > now:
                continue
            events = self.store.claim(operation, self.config.batch_size, now)
            if events:
                return (operation, events), 0.0
        waits = [until - now for until in paused.values() if until > now]
        idle = IDLE_POLL_SECONDS if self.store.durable else 5.0
        return None, min([idle, *waits])

    def settle(
        self, operation: str, events: Sequence[Event], outcomes: Sequence[Outcome], now: float
    ) -> None:
        delivered: List[Event] = []
        retry: List[Event] = []
        dead: List[Tuple[Event, str]] = []
        rejected: List[Tuple[Event, BaseException]] = []
        retry_after: Optional[float] = None
        first_error: Optional[BaseException] = None
        for event, outcome in zip(events, outcomes, strict=False):
            if outcome.kind == DELIVERED:
                delivered.append(event)
            elif outcome.kind == REJECTED:
                error = outcome.error or RuntimeError("rejected")
                dead.append((event, str(error)))
                rejected.append((event, error))
            else:
                retry.append(event)
                first_error = first_error or outcome.error
                if outcome.retry_after is not None:
                    retry_after = max(retry_after or 0.0, outcome.retry_after)
        retry.extend(events[len(outcomes) :])  # a deliverer that answered short: the rest wait
        with self.changed:
            settled = self.store.settle(delivered, retry, dead)
            self.delivered += settled.delivered
            self.rejected += settled.rejected
        if retry:
            failures = self._failures.get(operation, 0) + 1
            self._failures[operation] = failures
            delay = retry_after if retry_after is not None else self._backoff(failures)
            self._paused_until[operation] = now + delay
            if failures == 1:
                log.warning(
                    "meterly outbox: delivering %s failed (%s); %d events wait, retrying with backoff",
                    operation, first_error, len(retry),
                )  # fmt: skip
        elif self._failures.pop(operation, 0):
            self._paused_until.pop(operation, None)
            log.warning("meterly outbox: delivering %s works again", operation)
        for event, error in rejected:
            log.warning(
                "meterly outbox: the service rejected a %s event (idempotency_key=%s); it is in the "
                "dead-letter list and will not be retried: %s",
                operation, event.idempotency_key, error,
            )  # fmt: skip
            self._report(event, error)
        with self.changed:
            self.changed.notify_all()

    def _backoff(self, failures: int) -> float:
        config = self.config
        ceiling = min(config.retry_max_ms, config.retry_initial_ms * 2 ** min(failures - 1, 30)) / 1000
        return float(ceiling * (0.5 + self._random.random() / 2))

    def _report(self, event: Event, error: BaseException) -> None:
        callback = self.config.on_rejected
        if callback is None:
            return
        try:
            callback(DeadLetter(event, str(error), time.time()), error)
        except Exception:  # a broken callback must not stop delivery
            log.exception("meterly outbox: on_rejected raised")


class ThreadSender:
    """Runs a `SenderCore` in a daemon thread, started at the first event (in each process)."""

    def __init__(self, core: SenderCore, deliver: Deliver) -> None:
        self.core = core
        self.deliver = deliver
        self._wake = threading.Event()
        self._sleeping = False
        self._resting: FrozenSet[str] = frozenset()
        """While it sleeps: the operations in backoff, whose new events need not wake it."""
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self._keys = KeyReserve()

    def after_fork_in_child(self) -> None:
        self._wake = threading.Event()
        self._sleeping = False
        self._resting = frozenset()
        self._keys = KeyReserve()
        self._stopping = False
        self._thread = None
        self._start_lock = threading.Lock()

    def wake(self, operation: str = "") -> None:
        """Have the sender look for work (an event of `operation` was queued; "": anything).

        Only a sleeping sender is woken, and not for an operation in backoff (it wakes when that ends):
        `Event.set` takes a lock and wakes a thread, and a lock that the waking sender holds while it
        waits for the GIL would stall every app thread queueing meanwhile.
        """
        if self._sleeping and operation not in self._resting and not self._wake.is_set():
            self._wake.set()
        self.ensure_started()

    def ensure_started(self) -> None:
        """Start the thread if it is not running (a durable store's writer wakes it after each commit)."""
        if self._thread is None:
            self.start()

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stopping:
                thread = threading.Thread(target=self._run, name="meterly-outbox", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        core = self.core
        while not self._stopping:
            try:
                taken = self._keys.top_up()
                work, wait = core.next_work(time.time())
                if work is None:
                    now = time.time()
                    self._resting = core.paused(now)
                    self._sleeping = True
                    work, wait = core.next_work(now)  # what came before the flag was seen
                    if work is None:
                        # While it backs off, the app keeps queueing: it wakes to top up their keys.
                        self._wake.wait(min(wait, TOP_UP_SECONDS) if taken or self._resting else wait)
                    self._sleeping = False
                    self._wake.clear()
                if work is not None:
                    operation, events = work
                    try:
                        outcomes: Sequence[Outcome] = self.deliver(operation, events)
                    except Exception as exc:  # a deliverer bug: keep the events, back off
                        outcomes = [Outcome("retry", exc)] * len(events)
                    core.settle(operation, events, outcomes, time.time())
                    continue
            except Exception:  # the store failed (disk full, file locked too long): log, wait, try again
                log.exception("meterly outbox: the sender failed; trying again shortly")
                self._sleeping = False
                time.sleep(1.0)

    def stop(self, timeout: float = 0.5) -> None:
        """Stop the thread; one still in a delivery after `timeout` finishes it alone (a daemon thread)."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None


class TaskSender:
    """Runs a `SenderCore` in an asyncio task on the loop that queued the first event (a new task on
    another loop when that one has closed). A durable store's calls run in a worker thread, off the loop."""

    def __init__(self, core: SenderCore, deliver: AsyncDeliver) -> None:
        self.core = core
        self.deliver = deliver
        self._task: Optional[asyncio.Task[None]] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wake: Optional[asyncio.Event] = None
        self._stopping = False
        self._keys = KeyReserve()

    def after_fork_in_child(self) -> None:
        self._task = None
        self._loop = None
        self._wake = None
        self._stopping = False
        self._keys = KeyReserve()

    async def _store(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.core.store.durable:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    def wake(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._task is not None and not self._task.done():
            if running is loop:
                assert self._wake is not None
                self._wake.set()
            else:
                loop.call_soon_threadsafe(self._set_wake)
            return
        if running is not None and not self._stopping:
            self._loop = running
            self._wake = asyncio.Event()
            self._task = running.create_task(self._run(), name="meterly-outbox")
        # No running loop and no live task: the events wait for the next call on a loop, or a flush.

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        core = self.core
        assert self._wake is not None
        wake = self._wake
        while not self._stopping:
            taken = False
            try:
                taken = self._keys.top_up()
                work, wait = await self._store(core.next_work, time.time())
                if work is not None:
                    operation, events = work
                    try:
                        outcomes: Sequence[Outcome] = await self.deliver(operation, events)
                    except asyncio.CancelledError:
                        core.store.settle([], events, [])  # back in the queue, not lost with the task
                        raise
                    except Exception as exc:
                        outcomes = [Outcome("retry", exc)] * len(events)
                    await self._store(core.settle, operation, events, outcomes, time.time())
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("meterly outbox: the sender failed; trying again shortly")
                wait = 1.0
            with contextlib.suppress(asyncio.TimeoutError):
                backing_off = taken or core.paused(time.time())
                await asyncio.wait_for(wake.wait(), min(wait, TOP_UP_SECONDS) if backing_off else wait)
            wake.clear()

    async def stop(self) -> None:
        self._stopping = True
        task = self._task
        self._task = None
        if task is None or task.done():
            return
        if task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        else:
            task.get_loop().call_soon_threadsafe(task.cancel)
