"""`Balance`: a customer's balance of one feature."""

from typing import List, Optional

from meterly.types import BaseModel, Nullable

from .breakdown import Breakdown
from .customerrollover import CustomerRollover
from .feature import Feature


class Balance(BaseModel):
    """The customer's balance for a feature, summed over every plan and grant."""

    feature_id: str
    """The feature this balance is for."""

    granted: float
    """The total amount of usage included in the customer's plan(s) for this feature."""

    remaining: float
    """The remaining available balance across all subscriptions for this feature."""

    usage: float
    """The total usage consumed in the current cycle across all subscriptions."""

    unlimited: bool
    """Whether the feature has unlimited usage with no restrictions or limits."""

    overage_allowed: bool
    """Whether usage may continue beyond the included amount."""

    max_purchase: Nullable[float]
    """The most usage that can be bought beyond the grant; null for no limit."""

    next_reset_at: Nullable[float]
    """Unix timestamp (in milliseconds) when the usage counter resets next; null if it never does."""

    breakdown: Optional[List[Breakdown]] = None
    """The balance per plan or grant, for features with several sources or intervals."""

    rollovers: Optional[List[CustomerRollover]] = None
    """Unused balance carried over from earlier cycles."""

    feature: Optional[Feature] = None
    """The full feature object, when the service includes it."""
