"""The usage outbox: usage events queued at once and delivered by a background sender, so recording usage
never waits on the service and is never lost to an outage.

- `Outbox`: the configuration (`Meterly(outbox=Outbox(path=...))`); `outbox=True` is the in-memory default.
- `ClientOutbox` / `AsyncClientOutbox`: a client's `outbox` (`Meterly(outbox=...)` builds it).
- `MemoryStore` / `SqliteStore`: where events wait; `DeadLetter`: an event the service refused.
- `Deliver` / `AsyncDeliver`, `Outcome`: the seam between the sender and the wire.

Never imported by `import meterly`: it loads when `meterly.Outbox` or this package is first named.
"""

from meterly.outbox._client import AsyncClientOutbox, ClientOutbox, OutboxStats
from meterly.outbox._config import Outbox
from meterly.outbox._deliver import (
    DELIVERED,
    REJECTED,
    RETRY,
    AsyncClientDeliverer,
    AsyncDeliver,
    ClientDeliverer,
    Deliver,
    Outcome,
    classify,
)
from meterly.outbox._store import DeadLetter, Event, MemoryStore, SqliteStore

__all__ = [
    "DELIVERED",
    "REJECTED",
    "RETRY",
    "AsyncClientDeliverer",
    "AsyncClientOutbox",
    "AsyncDeliver",
    "ClientDeliverer",
    "ClientOutbox",
    "DeadLetter",
    "Deliver",
    "Event",
    "MemoryStore",
    "Outbox",
    "OutboxStats",
    "Outcome",
    "SqliteStore",
    "classify",
]
