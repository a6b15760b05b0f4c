"""Where queued events wait: `MemoryStore` (a deque per operation) and `SqliteStore` (one SQLite file that
every process and thread on the host may share). Both bound what they hold and keep a dead-letter list.

Events have three states: waiting (`pending`), claimed by a sender under a lease (still `pending`, with
`lease_owner` and `lease_until` set), and `dead` (refused by the service). A delivered event is deleted
in the transaction that settles its batch.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import deque
from typing import Any, Deque, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from meterly.errors import OutboxFullError

log = logging.getLogger("meterly")


class Event(NamedTuple):
    """One queued usage event."""

    operation: str
    """The id of the operation that delivers it (`usageTrack`, `balancesTrack`, `balancesTrackTokens`)."""
    body: Mapping[str, Any]
    """Its checked arguments by Python name, JSON-serializable; `timestamp` is always set."""
    idempotency_key: str
    enqueued_at: float
    """Unix time, in seconds."""
    attempts: int = 0
    """How many deliveries were tried before this one (counted when a sender claims it)."""
    row: int = 0
    """Its id in the store."""


class DeadLetter(NamedTuple):
    """An event the service refused (a 4xx that retrying cannot fix): kept, never retried."""

    event: Event
    error: str
    """What the service said (the error's text: never a key)."""
    rejected_at: float


class Settled(NamedTuple):
    """How many of a settled batch each way ended."""

    delivered: int
    rejected: int


def _owner() -> str:
    """Who holds a lease: this host and process, plus a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class MemoryStore:
    """Events in this process's memory: fast, and lost if the process dies before they are delivered."""

    durable = False
    MAX_DEAD = 10_000
    """Dead letters kept in memory (the oldest are forgotten first)."""

    def __init__(self, max_pending: int, drop_oldest: bool) -> None:
        self.max_pending = max_pending
        self.drop_oldest = drop_oldest
        self.dropped = 0
        """Events dropped to make room (on_full="drop_oldest") or abandoned after a fork."""
        self._lock = threading.Lock()
        self._queues: Dict[str, Deque[Event]] = {}
        self._held = 0  # waiting plus claimed
        self._dead: Deque[DeadLetter] = deque(maxlen=self.MAX_DEAD)
        self._rows = itertools.count(1)

    def add(self, operation: str, body: Mapping[str, Any], key: str, enqueued_at: float) -> int:
        """Queue one event; returns how many older events were dropped to make room (0 or 1)."""
        with self._lock:
            dropped = 0
            if self._held >= self.max_pending:
                if not self.drop_oldest or not self._drop_one():
                    raise OutboxFullError(self.max_pending)
                dropped = 1
            queue = self._queues.get(operation)
            if queue is None:
                queue = self._queues[operation] = deque()
            queue.append(Event(operation, body, key, enqueued_at, 0, next(self._rows)))
            self._held += 1
        return dropped

    def _drop_one(self) -> bool:
        oldest: Optional[Deque[Event]] = None
        for queue in self._queues.values():
            if queue and (oldest is None or queue[0].row < oldest[0].row):
                oldest = queue
        if oldest is None:  # everything is being delivered: nothing waiting can make room
            return False
        oldest.popleft()
        self._held -= 1
        self.dropped += 1
        return True

    def operations(self, now: float) -> List[str]:
        with self._lock:
            return [op for op, queue in self._queues.items() if queue]

    def claim(self, operation: str, limit: int, now: float) -> List[Event]:
        with self._lock:
            queue = self._queues.get(operation)
            if not queue:
                return []
            taken = [queue.popleft() for _ in range(min(limit, len(queue)))]
        return [event._replace(attempts=event.attempts + 1) for event in taken]

    def settle(
        self, delivered: Sequence[Event], retry: Sequence[Event], dead: Sequence[Tuple[Event, str]]
    ) -> Settled:
        now = time.time()
        with self._lock:
            for event in reversed(retry):  # back at the front, in their order
                queue = self._queues.setdefault(event.operation, deque())
                queue.appendleft(event)
            for event, error in dead:
                self._dead.append(DeadLetter(event, error, now))
            self._held -= len(delivered) + len(dead)
        return Settled(len(delivered), len(dead))

    def pending(self) -> int:
        return self._held

    def oldest_pending(self) -> Optional[float]:
        with self._lock:
            heads = [queue[0].enqueued_at for queue in self._queues.values() if queue]
        return min(heads) if heads else None

    def dead_letters(self) -> List[DeadLetter]:
        with self._lock:
            return list(self._dead)

    def after_fork_in_child(self) -> None:
        """The child forgets what the parent queued: the parent still holds and delivers those events."""
        self._lock = threading.Lock()
        self._queues = {}
        self._held = 0
        self._dead = deque(maxlen=self.MAX_DEAD)

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    body TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    error TEXT,
    rejected_at REAL
);
CREATE INDEX IF NOT EXISTS events_waiting ON events (state, operation, id);
CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""

_abandoned: List[sqlite3.Connection] = []
"""Connections a forked child inherited: never used and never closed there (closing one could disturb the
parent's locks on the file), kept referenced so garbage collection does not close them either."""


class SqliteStore:
    """Events in a SQLite file (WAL journal), shared by every process and thread that opens it.

    What is synced when: every `add` is its own transaction, committed before `add` returns, so an event
    that was queued survives the process being killed (`kill -9`) at any moment after. With
    `synchronous="normal"` (the default) a commit writes the WAL file but does not fsync it; SQLite
    fsyncs at each checkpoint (about every 1,000 pages of WAL). A power cut or an OS crash can therefore
    lose the events committed since the last checkpoint (up to a few thousand), never corrupt the file.
    With `synchronous="full"` each commit fsyncs the WAL: nothing committed is lost on a power cut, and an
    enqueue costs an fsync (milliseconds on most disks). Nothing survives the loss of the disk itself.

    The sender's work is batched: one transaction claims up to `batch_size` events (setting their lease),
    one settles them (deletes the delivered, releases the retried, marks the rejected dead). Several
    processes claim through SQLite's write lock, so no event is claimed by two live leases at once.
    """

    durable = True

    def __init__(
        self,
        path: str,
        max_pending: int,
        drop_oldest: bool,
        lease_seconds: float,
        synchronous: str = "normal",
    ) -> None:
        self.path = path
        self.max_pending = max_pending
        self.drop_oldest = drop_oldest
        self.lease_seconds = lease_seconds
        self.synchronous = synchronous.upper()
        self.dropped = 0
        self.owner = _owner()
        self._local = threading.local()
        self._pid = os.getpid()
        self._all: List[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._create()

    def _create(self) -> None:
        db = self._db()
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        with _transaction(db):
            # The counter is rebuilt from the rows at open, so it can never drift for long.
            db.execute(
                "INSERT OR REPLACE INTO counts VALUES "
                "('pending', (SELECT COUNT(*) FROM events WHERE state = 'pending'))"
            )

    def _db(self) -> sqlite3.Connection:
        """This thread's connection in this process (a forked child opens its own)."""
        db: Optional[sqlite3.Connection] = getattr(self._local, "db", None)
        if db is None or self._pid != os.getpid():
            if self._pid != os.getpid():
                self.after_fork_in_child()
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            self._local.db = db
            with self._all_lock:
                self._all.append(db)
        return db

    def add(self, operation: str, body: Mapping[str, Any], key: str, enqueued_at: float) -> int:
        db = self._db()
        text = json.dumps(body, separators=(",", ":"))
        dropped = 0
        with _transaction(db):
            if (
                db.execute(
                    "UPDATE counts SET n = n + 1 WHERE name = 'pending' AND n < ?", (self.max_pending,)
                ).rowcount
                == 0
            ):
                if not self.drop_oldest:
                    raise OutboxFullError(self.max_pending)
                gone = db.execute(
                    "DELETE FROM events WHERE id = (SELECT id FROM events WHERE state = 'pending' "
                    "AND lease_until < ? ORDER BY id LIMIT 1)",
                    (time.time(),),
                ).rowcount
                if gone == 0:
                    raise OutboxFullError(self.max_pending)
                dropped = 1
            db.execute(
                "INSERT INTO events (operation, body, idempotency_key, enqueued_at) VALUES (?, ?, ?, ?)",
                (operation, text, key, enqueued_at),
            )
        self.dropped += dropped
        return dropped

    def operations(self, now: float) -> List[str]:
        rows = self._db().execute(
            "SELECT DISTINCT operation FROM events WHERE state = 'pending' AND lease_until < ?", (now,)
        )
        return [row[0] for row in rows]

    def claim(self, operation: str, limit: int, now: float) -> List[Event]:
        db = self._db()
        with _transaction(db):
            rows = db.execute(
                "UPDATE events SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
                "WHERE id IN (SELECT id FROM events WHERE state = 'pending' AND operation = ? "
                "AND lease_until < ? ORDER BY id LIMIT ?) "
                "RETURNING id, body, idempotency_key, enqueued_at, attempts",
                (self.owner, now + self.lease_seconds, operation, now, limit),
            ).fetchall()
        rows.sort()
        return [
            Event(operation, json.loads(body), key, at, attempts, row)
            for row, body, key, at, attempts in rows
        ]

    def settle(
        self, delivered: Sequence[Event], retry: Sequence[Event], dead: Sequence[Tuple[Event, str]]
    ) -> Settled:
        db = self._db()
        owner = self.owner
        now = time.time()
        with _transaction(db):
            done = _rowcount(
                db.executemany(
                    "DELETE FROM events WHERE id = ? AND lease_owner = ?", [(e.row, owner) for e in delivered]
                )
            )
            db.executemany(
                "UPDATE events SET lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
                [(e.row, owner) for e in retry],
            )
            rejected = _rowcount(
                db.executemany(
                    "UPDATE events SET state = 'dead', error = ?, rejected_at = ?, lease_owner = NULL "
                    "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                    [(error, now, e.row, owner) for e, error in dead],
                )
            )
            if done or rejected:
                db.execute("UPDATE counts SET n = n - ? WHERE name = 'pending'", (done + rejected,))
        return Settled(done, rejected)

    def pending(self) -> int:
        row = self._db().execute("SELECT n FROM counts WHERE name = 'pending'").fetchone()
        return int(row[0]) if row else 0

    def oldest_pending(self) -> Optional[float]:
        row = self._db().execute("SELECT MIN(enqueued_at) FROM events WHERE state = 'pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def dead_letters(self) -> List[DeadLetter]:
        rows = self._db().execute(
            "SELECT id, operation, body, idempotency_key, enqueued_at, attempts, error, rejected_at "
            "FROM events WHERE state = 'dead' ORDER BY id"
        )
        return [
            DeadLetter(Event(op, json.loads(body), key, at, attempts, row), error or "", rejected_at or 0.0)
            for row, op, body, key, at, attempts, error, rejected_at in rows
        ]

    def after_fork_in_child(self) -> None:
        """The child never touches the parent's connections: it opens its own, under its own lease owner."""
        _abandoned.extend(self._all)
        self._all = []
        self._all_lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()
        self.owner = _owner()

    def close(self) -> None:
        """Close this process's connections; the file and what it holds stay for the next process."""
        if self._pid != os.getpid():
            self.after_fork_in_child()
            return
        with self._all_lock:
            connections, self._all = self._all, []
        self._local = threading.local()
        for db in connections:
            try:
                db.close()
            except sqlite3.Error:  # another thread's connection in use: closing it at exit is enough
                log.debug("meterly outbox: a SQLite connection could not be closed", exc_info=True)


def _rowcount(cursor: sqlite3.Cursor) -> int:
    return max(cursor.rowcount, 0)


class _transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (rolled back on an exception): takes the write lock up front, so two
    processes never both read and then fight to upgrade."""

    __slots__ = ("db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
