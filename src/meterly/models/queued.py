"""`Queued`: what `client.outbox.<resource>.<method>(...)` returns once an event is in the outbox."""

from datetime import datetime

from meterly.types import BaseModel


class Queued(BaseModel):
    """An event accepted by the usage outbox; the background sender delivers it later."""

    operation: str
    """The id of the operation that will deliver it, e.g. `usageTrack` or `balancesTrack`."""

    idempotency_key: str
    """The key the event is delivered with (the caller's, else a fresh UUID4): it counts once."""

    enqueued_at: datetime
    """When it was queued (UTC); also the event's timestamp unless the caller gave one."""
