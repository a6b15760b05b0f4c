"""`Flag`: the grant of a boolean feature, returned by later API versions of balances.check."""

from typing import Optional

from meterly.types import BaseModel, Nullable

from .feature import Feature


class Flag(BaseModel):
    """A boolean feature the customer has, and where it comes from."""

    id: str
    """The flag's id."""

    plan_id: Nullable[str]
    """The plan the flag comes from; null for a flag granted outside any plan."""

    expires_at: Nullable[float]
    """Unix timestamp (in milliseconds) when the flag expires; null if it never does."""

    feature_id: str
    """The boolean feature the flag is for."""

    feature: Optional[Feature] = None
    """The full feature object, when the service includes it."""
