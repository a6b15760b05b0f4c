"""`CustomerRollover`: unused balance carried into the next cycle."""

from typing import Optional

from meterly.types import BaseModel, Nullable


class CustomerRollover(BaseModel):
    """A balance rolled over from an earlier cycle."""

    balance: float
    """What is left of the rolled-over amount."""

    expires_at: Nullable[float]
    """Unix timestamp (in milliseconds) when it expires; null if it never does."""

    granted: Optional[float] = None
    """The amount that was rolled over."""
