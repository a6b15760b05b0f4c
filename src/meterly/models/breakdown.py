"""`Breakdown`: one plan's or grant's part of a balance."""

from typing import Optional

from meterly.types import BaseModel, Nullable

from .price import Price
from .reset import Reset


class Breakdown(BaseModel):
    """One source of balance (a plan, a prepaid purchase) with its own reset and price."""

    plan_id: Nullable[str]
    """The plan this entry comes from; null for a grant outside any plan."""

    included_grant: float
    """Usage included by the plan in each cycle."""

    prepaid_grant: float
    """Usage bought in advance."""

    remaining: float
    """What is left of this entry."""

    usage: float
    """What was used of this entry in the current cycle."""

    unlimited: bool
    """Whether this entry has no limit."""

    reset: Nullable[Reset]
    """When this entry resets; null if it never does."""

    price: Nullable[Price]
    """How usage beyond the grant is billed; null if it is not."""

    expires_at: Nullable[float]
    """Unix timestamp (in milliseconds) when this entry expires; null if it never does."""

    id: Optional[str] = None
    """The id of the customer entitlement behind this entry."""
