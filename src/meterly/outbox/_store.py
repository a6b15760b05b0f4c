"""Where queued events wait: `MemoryStore` (a deque per operation) and `SqliteStore` (one SQLite file that
every process and thread on the host may share). Both bound what they hold and keep a dead-letter list.

Events have three states: waiting (`pending`), claimed by a sender under a lease (still `pending`, with
`lease_owner` and `lease_until` set), and `dead` (refused by the service). A delivered event is deleted
in the transaction that settles its batch.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable, Deque, Dict, Generator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import pydantic_core

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
    """How many deliveries of it were tried before the current one."""
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


_Waiting = Tuple[Any, ...]
"""A waiting event in memory: the names of its body's values, its idempotency key, enqueue time, attempts
and row, then the body's values. One flat tuple of plain values, so the collector stops tracking it at its
first collection. An `Event` (or any tuple holding a dict) stays tracked for as long as it waits, and
with a growing queue every enqueue paid for collections that walked them all: in `bench/outbox.py`'s
hot path, collections took a third of the time."""
_ENQUEUED_AT = 2
_ROW = 4
_BODY = 5
_MAX_LAYOUTS = 1_000


def _nothing() -> None:
    pass


def note_drops(total: int, now: int, max_pending: int) -> None:
    """Log dropped events: at the first drop, then at every thousandth, with the running count."""
    if total == now or total // 1000 != (total - now) // 1000:
        log.warning(
            "meterly outbox: full (max_pending=%d): dropped the oldest waiting events (%d so far)",
            max_pending, total,
        )  # fmt: skip


def _dead_here(owner: str, host: str) -> bool:
    """Whether a lease owner (`host:pid:random`) was a process of this host that no longer runs."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's
        return False
    return False


def _owner() -> str:
    """Who holds a lease: this host and process, plus a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class MemoryStore:
    """Events in this process's memory: fast, and lost if the process dies before they are delivered.

    Queueing takes no lock: a deque's `append` is atomic, and a lock held by a thread that the
    interpreter switches out would stall every other thread queueing behind it (the p99 of an enqueue
    with 8 threads went from milliseconds to microseconds without it). So the bound is checked without
    a lock too: threads queueing at the same instant may pass `max_pending` by one event each.
    """

    durable = False
    MAX_DEAD = 10_000
    """Dead letters kept in memory (the oldest are forgotten first)."""

    def __init__(self, max_pending: int, drop_oldest: bool) -> None:
        self.max_pending = max_pending
        self.drop_oldest = drop_oldest
        self.dropped = 0
        """Events dropped to make room (on_full="drop_oldest"), or left undelivered at close."""
        self._lock = threading.Lock()
        """Taken by the sender's claims and settles, and to make room: never by a plain enqueue."""
        self._queues: Dict[str, Deque[_Waiting]] = {}
        self._layouts: Dict[Tuple[str, ...], Tuple[str, ...]] = {}
        """One tuple of body names per set of arguments given, shared by the events that give it."""
        self._claimed: Dict[int, float] = {}
        """The enqueue time of each event being delivered, by row: still pending, and perhaps the oldest."""
        self._dead: Deque[DeadLetter] = deque(maxlen=self.MAX_DEAD)
        self._rows = itertools.count(1)
        """Numbers every event queued (`next` is atomic): row - 1 events came before an event."""
        self._gone = 0
        """Rows that left the store (delivered, dead, dropped, refused as full), counted under the lock:
        `add` reads the pending count as `row - 1 - _gone` instead of summing the queues."""

    def add(self, operation: str, body: Mapping[str, Any], key: str, enqueued_at: float) -> int:
        """Queue one event; returns how many older events were dropped to make room (0 or 1)."""
        queue = self._queues.get(operation)
        if queue is None:
            with self._lock:
                queue = self._queues.setdefault(operation, deque())
        row = next(self._rows)
        dropped = 0
        if row - 1 - self._gone >= self.max_pending:
            with self._lock:
                if self.pending() >= self.max_pending:
                    if not self.drop_oldest or not self._drop_one():
                        self._gone += 1
                        raise OutboxFullError(self.max_pending)
                    dropped = 1
        queue.append(self._waiting(body, key, enqueued_at, 0, row))
        return dropped

    def _waiting(
        self, body: Mapping[str, Any], key: str, enqueued_at: float, attempts: int, row: int
    ) -> _Waiting:
        names = tuple(body)
        layout = self._layouts.get(names)
        if layout is None:
            layout = names if len(self._layouts) >= _MAX_LAYOUTS else self._layouts.setdefault(names, names)
        return (layout, key, enqueued_at, attempts, row, *body.values())

    def _drop_one(self) -> bool:
        oldest: Optional[Deque[_Waiting]] = None
        for queue in self._queues.values():
            if queue and (oldest is None or queue[0][_ROW] < oldest[0][_ROW]):
                oldest = queue
        if oldest is None:  # everything is being delivered: nothing waiting can make room
            return False
        oldest.popleft()
        self._gone += 1
        self.dropped += 1
        note_drops(self.dropped, 1, self.max_pending)
        return True

    def operations(self, now: float) -> List[str]:
        return [op for op, queue in list(self._queues.items()) if queue]

    def claim(self, operation: str, limit: int, now: float) -> List[Event]:
        taken: List[Event] = []
        with self._lock:
            queue = self._queues.get(operation)
            while queue and len(taken) < limit:
                waiting = queue.popleft()
                body = dict(zip(waiting[0], waiting[_BODY:], strict=True))
                event = Event(operation, body, *waiting[1:_BODY])
                taken.append(event)
                self._claimed[event.row] = event.enqueued_at
        return taken

    def settle(
        self, delivered: Sequence[Event], retry: Sequence[Event], dead: Sequence[Tuple[Event, str]]
    ) -> Settled:
        now = time.time()
        with self._lock:
            for event in reversed(retry):  # back at the front, in their order
                queue = self._queues.setdefault(event.operation, deque())
                key, enqueued_at, attempts, row = event[2:]
                queue.appendleft(self._waiting(event.body, key, enqueued_at, attempts + 1, row))
            for event, error in dead:
                event = event._replace(attempts=event.attempts + 1)
                self._dead.append(DeadLetter(event, error, now))
            for event in (*delivered, *retry, *(event for event, _ in dead)):
                self._claimed.pop(event.row, None)
            self._gone += len(delivered) + len(dead)
        return Settled(len(delivered), len(dead))

    def pending(self) -> int:
        """Events waiting or being delivered."""
        return sum([len(queue) for queue in list(self._queues.values())]) + len(self._claimed)

    def oldest_pending(self) -> Optional[float]:
        heads: List[float] = list(self._claimed.copy().values())  # being delivered is still waiting
        for queue in list(self._queues.values()):
            with contextlib.suppress(IndexError):
                heads.append(queue[0][_ENQUEUED_AT])
        return min(heads) if heads else None

    def dead_letters(self) -> List[DeadLetter]:
        with self._lock:
            return list(self._dead)

    def after_fork_in_child(self) -> None:
        """The child forgets what the parent queued: the parent still holds and delivers those events."""
        self._lock = threading.Lock()
        self._queues = {}
        self._claimed = {}
        self._dead = deque(maxlen=self.MAX_DEAD)
        self._rows = itertools.count(1)
        self._gone = 0

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

Row = Tuple[str, Mapping[str, Any], str, float]
"""A buffered event: operation, body (encoded by the writer), idempotency key, enqueue time."""


def _encode(body: Mapping[str, Any]) -> str:
    """An event's body as the file keeps it: JSON text that `json.loads` reads back as the same values
    (`NaN` included), at a quarter of `json.dumps`'s cost."""
    return _to_json(body).decode()


_to_json = pydantic_core.to_json
_decode: Callable[[str], Any] = pydantic_core.from_json
"""Reads a body back (a quarter of `json.loads`'s cost, the same values)."""

_forks = 0
"""How many times this process was forked into (counted in the child): a store opened before a fork sees
it change, and every path of the store checks it instead of asking for its pid (a system call) each time."""


def _count_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)

_OPERATIONS = """
WITH RECURSIVE waiting(operation) AS (
    SELECT (SELECT MIN(operation) FROM events WHERE state = 'pending')
    UNION ALL
    SELECT (SELECT MIN(operation) FROM events WHERE state = 'pending' AND operation > waiting.operation)
    FROM waiting WHERE waiting.operation IS NOT NULL
)
SELECT operation FROM waiting WHERE operation IS NOT NULL
"""
"""The distinct operations of the waiting events, one seek in `events_waiting` each, not a scan."""

_abandoned: List[sqlite3.Connection] = []
"""Connections a forked child inherited: never used and never closed there (closing one could disturb the
parent's locks on the file), kept referenced so garbage collection does not close them either."""


class SqliteStore:
    """Events in a SQLite file (WAL journal), shared by every process and thread that opens it.

    What is written when: `add` puts the event in this process's buffer and returns; a writer thread
    commits the buffer to the file `commit_interval` seconds later (5 ms by default), all of it in one
    transaction, and `commit()` does it at once (so do `flush()`, `close()` and interpreter exit). A
    `kill -9` can therefore cost the events queued in the last commit interval; once committed, an event
    survives any crash of the process. With `commit_interval=0` every `add` commits before it returns
    (nothing queued is lost to a crash, at the cost of a write per event on the caller's thread: about
    30 us alone, and milliseconds when eight threads queue at once, since each write gives up the GIL).

    What is synced when: with `synchronous="normal"` (the default) a commit writes the WAL file but does
    not fsync it; SQLite fsyncs at each checkpoint (about every 1,000 pages of WAL). A power cut or an OS
    crash can therefore lose the events committed since the last checkpoint (up to a few thousand),
    never corrupt the file. With `synchronous="full"` each commit fsyncs the WAL: nothing committed is
    lost on a power cut. Nothing survives the loss of the disk itself.

    The sender's work is batched too: a claim sets the lease of a whole batch (up to 1,000 events) in
    one transaction, and a settle deletes the delivered, releases the retried and marks the rejected
    dead, `CHUNK` rows per transaction: a few milliseconds of the file's write lock each, which another
    process's writer waits out (its app threads never wait on the file). Several processes claim
    through SQLite's write lock, so no event is claimed by two live leases at once.

    Within a process, writes go through one connection under a lock. Between processes, a busy file is
    retried here with waits from 50 us up to 5 ms (SQLite's own busy handler sleeps whole milliseconds).

    `max_pending` bounds the file: a process counts what the file held at its last commit plus what it
    buffered since, so several processes together may pass it by what they buffered in one interval.
    """

    durable = True
    CHUNK = 1000
    BUSY_TIMEOUT = 30.0
    """Seconds a write waits for another process to release the file before it raises."""

    def __init__(
        self,
        path: str,
        max_pending: int,
        drop_oldest: bool,
        lease_seconds: float,
        synchronous: str = "normal",
        commit_interval: float = 0.005,
    ) -> None:
        self.path = path
        self.commit_interval = commit_interval
        self.on_commit: Callable[[], None] = _nothing
        """Called after each commit of buffered events (the outbox wakes its sender)."""
        self._buffer: Deque[Row] = deque()
        self._commit_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._writer_wake = threading.Event()
        self._writer_thread: Optional[threading.Thread] = None
        self._writer_idle = False
        self._stopping = False
        self._committed = 0
        self.max_pending = max_pending
        self.drop_oldest = drop_oldest
        self.lease_seconds = lease_seconds
        self.synchronous = synchronous.upper()
        self.dropped = 0
        self.owner = _owner()
        self._local = threading.local()
        self._forks = _forks
        self._all: List[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer: Optional[sqlite3.Connection] = None
        self._create()

    def _create(self) -> None:
        db = self._db()
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        with self._write() as db:
            # The counter is rebuilt from the rows at open, so it can never drift for long.
            db.execute(
                "INSERT OR REPLACE INTO counts VALUES "
                "('pending', (SELECT COUNT(*) FROM events WHERE state = 'pending'))"
            )
        self._committed = self._file_pending()
        self._release_dead_owners()

    def _release_dead_owners(self) -> None:
        """Give back at once the leases of processes of this host that are gone (a `kill -9`, a crash),
        rather than after `lease_ms`: their events are delivered by the next process that opens the file."""
        host = socket.gethostname()
        rows = (
            self._db()
            .execute(
                "SELECT DISTINCT lease_owner FROM events WHERE lease_owner IS NOT NULL AND lease_until >= ?",
                (time.time(),),
            )
            .fetchall()
        )
        gone = [owner for (owner,) in rows if _dead_here(owner, host)]
        for owner in gone:
            with self._write() as db:
                db.execute(
                    "UPDATE events SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?", (owner,)
                )

    def _connect(self, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        with self._all_lock:
            self._all.append(db)
        return db

    def _db(self) -> sqlite3.Connection:
        """This thread's connection for reads, in this process (a forked child opens its own)."""
        if self._forks != _forks:
            self.after_fork_in_child()
        db: Optional[sqlite3.Connection] = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect(self.BUSY_TIMEOUT)
        return db

    @contextlib.contextmanager
    def _write(self) -> Generator[sqlite3.Connection, None, None]:
        """One write transaction (`BEGIN IMMEDIATE`: the write lock up front), committed on success."""
        if self._forks != _forks:
            self.after_fork_in_child()
        with self._write_lock:
            db = self._writer
            if db is None:
                db = self._writer = self._connect(0)  # busy: raise at once, retried below
            _begin(db, self.BUSY_TIMEOUT)
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add(self, operation: str, body: Mapping[str, Any], key: str, enqueued_at: float) -> int:
        """Buffer one event for the writer thread, which encodes and commits it (no system call and no
        lock here: see MemoryStore); with `commit_interval=0`, commit it before returning."""
        row = (operation, body, key, enqueued_at)
        if self.commit_interval <= 0:
            with self._commit_lock:
                self._commit([row])
            return 0
        if self._forks != _forks:
            self.after_fork_in_child()
        if not self.drop_oldest and self._committed + len(self._buffer) >= self.max_pending:
            raise OutboxFullError(self.max_pending)
        self._buffer.append(row)  # atomic; the writer takes from the other end
        if self._writer_thread is None:
            self._start_writer()
        if self._writer_idle and not self._writer_wake.is_set():  # see ThreadSender.wake
            self._writer_wake.set()
        return 0

    def _start_writer(self) -> None:
        with self._start_lock:
            if self._writer_thread is None and not self._stopping:
                thread = threading.Thread(
                    target=self._write_behind, name="meterly-outbox-writer", daemon=True
                )
                thread.start()
                self._writer_thread = thread

    def _write_behind(self) -> None:
        wake = self._writer_wake
        while not self._stopping:
            if not self._buffer:
                self._writer_idle = True
                if not self._buffer:  # what came before the flag was seen
                    wake.wait()
                self._writer_idle = False
                wake.clear()
            time.sleep(self.commit_interval)  # gather what the next few milliseconds bring into one commit
            try:
                self.commit()
            except Exception:  # the file is locked too long, or the disk is full: keep the buffer, retry
                log.exception("meterly outbox: committing queued events to %s failed; retrying", self.path)
                time.sleep(1.0)

    def commit(self) -> None:
        """Write what this process buffered to the file now."""
        buffer = self._buffer
        # The writer thread and a flush may both commit: the lock keeps each row to one commit, in order.
        with self._commit_lock:
            rows: List[Row] = []
            with contextlib.suppress(IndexError):
                for _ in range(len(buffer)):
                    rows.append(buffer.popleft())
            if not rows:
                return
            try:
                self._commit(rows)
            except BaseException:
                buffer.extendleft(reversed(rows))
                raise
        self.on_commit()

    def _commit(self, rows: List[Row]) -> None:
        gone = 0
        encode = _encode
        encoded = [(op, encode(body), key, at) for op, body, key, at in rows]
        with self._write() as db:
            db.executemany(
                "INSERT INTO events (operation, body, idempotency_key, enqueued_at) VALUES (?, ?, ?, ?)",
                encoded,
            )
            held = db.execute(
                "UPDATE counts SET n = n + ? WHERE name = 'pending' RETURNING n", (len(rows),)
            ).fetchone()[0]
            excess = held - self.max_pending
            if excess > 0:
                if not self.drop_oldest and self.commit_interval <= 0:
                    raise OutboxFullError(self.max_pending)  # rolled back: nothing was queued
                if self.drop_oldest:
                    gone = _rowcount(
                        db.execute(
                            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE state = 'pending' "
                            "AND lease_until < ? ORDER BY id LIMIT ?)",
                            (time.time(), excess),
                        )
                    )
                    db.execute("UPDATE counts SET n = n - ? WHERE name = 'pending'", (gone,))
            self._committed = held - gone
        if gone:
            self.dropped += gone
            note_drops(self.dropped, gone, self.max_pending)

    def operations(self, now: float) -> List[str]:
        """The operations with events waiting, found by one index seek each (a scan of the waiting
        events took milliseconds per batch with a backlog); `claim` skips events under a live lease."""
        return [row[0] for row in self._db().execute(_OPERATIONS)]

    def claim(self, operation: str, limit: int, now: float) -> List[Event]:
        with self._write() as db:
            rows = db.execute(
                "UPDATE events SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
                "WHERE id IN (SELECT id FROM events WHERE state = 'pending' AND operation = ? "
                "AND lease_until < ? ORDER BY id LIMIT ?) "
                "RETURNING id, body, idempotency_key, enqueued_at, attempts",
                (self.owner, now + self.lease_seconds, operation, now, limit),
            ).fetchall()
        rows.sort()
        decode = _decode
        return [
            Event(operation, decode(body), key, at, attempts - 1, row)
            for row, body, key, at, attempts in rows
        ]

    def settle(
        self, delivered: Sequence[Event], retry: Sequence[Event], dead: Sequence[Tuple[Event, str]]
    ) -> Settled:
        owner = self.owner
        now = time.time()
        done = rejected = 0
        step = self.CHUNK
        for i in range(0, len(delivered), step):
            ids = [e.row for e in delivered[i : i + step]]
            with self._write() as db:
                gone = _rowcount(
                    db.execute(
                        f"DELETE FROM events WHERE lease_owner = ? AND id IN ({','.join('?' * len(ids))})",
                        (owner, *ids),
                    )
                )
                db.execute("UPDATE counts SET n = n - ? WHERE name = 'pending'", (gone,))
            done += gone
        for i in range(0, len(retry), step):
            ids = [e.row for e in retry[i : i + step]]
            with self._write() as db:
                db.execute(
                    "UPDATE events SET lease_owner = NULL, lease_until = 0 "
                    f"WHERE lease_owner = ? AND id IN ({','.join('?' * len(ids))})",
                    (owner, *ids),
                )
        for i in range(0, len(dead), step):
            with self._write() as db:
                gone = _rowcount(
                    db.executemany(
                        "UPDATE events SET state = 'dead', error = ?, rejected_at = ?, lease_owner = NULL "
                        "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                        [(error, now, e.row, owner) for e, error in dead[i : i + step]],
                    )
                )
                db.execute("UPDATE counts SET n = n - ? WHERE name = 'pending'", (gone,))
            rejected += gone
        return Settled(done, rejected)

    def pending(self) -> int:
        """Events in the file waiting or being delivered, plus those this process has yet to commit."""
        return self._file_pending() + len(self._buffer)

    def _file_pending(self) -> int:
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
            DeadLetter(Event(op, _decode(body), key, at, attempts, row), error or "", rejected_at or 0.0)
            for row, op, body, key, at, attempts, error, rejected_at in rows
        ]

    def after_fork_in_child(self) -> None:
        """The child never touches the parent's connections: it opens its own, under its own lease owner."""
        _abandoned.extend(self._all)
        self._buffer = deque()  # the parent commits what it buffered
        self._commit_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._writer_wake = threading.Event()
        self._writer_thread = None
        self._writer_idle = False
        self._stopping = False
        self._all = []
        self._all_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer = None
        self._local = threading.local()
        self._forks = _forks
        self.owner = _owner()

    def close(self) -> None:
        """Close this process's connections; the file and what it holds stay for the next process."""
        if self._forks != _forks:
            self.after_fork_in_child()
            return
        self.commit()
        self._stopping = True
        self._writer_wake.set()
        with self._write_lock, self._all_lock:
            connections, self._all = self._all, []
            self._writer = None
            self._local = threading.local()
        for db in connections:
            try:
                db.close()
            except sqlite3.Error:  # another thread's connection in use: closing it at exit is enough
                log.debug("meterly outbox: a SQLite connection could not be closed", exc_info=True)


def _begin(db: sqlite3.Connection, timeout: float) -> None:
    """`BEGIN IMMEDIATE`, retried while another process holds the file's write lock."""
    wait = 0.00005
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
        time.sleep(wait)
        wait = min(wait * 2, 0.005)


def _rowcount(cursor: sqlite3.Cursor) -> int:
    return max(cursor.rowcount, 0)
