"""`FlushResult`: what `client.outbox.flush()` did before it returned."""

from meterly.types import BaseModel


class FlushResult(BaseModel):
    """Counts from the start of a flush to its end."""

    delivered: int
    """Events delivered during the flush."""

    pending: int
    """Events still waiting when it returned (0: everything was delivered or rejected)."""

    rejected: int
    """Events the service refused during the flush; they are in the dead-letter list."""
