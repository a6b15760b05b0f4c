"""`TrackResponse`: the answer of `balances.track` and `balances.track_tokens`."""

from typing import Dict, List, Optional

from meterly.types import UNSET, BaseModel, Nullable, OptionalNullable

from .balance import Balance
from .reset import Reset


class TrackDeduction(BaseModel):
    """How much one balance gave to the recorded usage."""

    balance_id: str
    """The balance (a breakdown item's id) that was deducted."""

    feature_id: str
    """The feature of that balance: the tracked feature, or the credit system it draws on."""

    plan_id: Nullable[str]
    """The plan that granted the balance; null for a grant outside any plan."""

    value: float
    """The amount deducted from this balance (negative when usage was given back)."""

    reset: OptionalNullable[Reset] = UNSET
    """When that balance resets (Autumn API 2.5.0); null for one that never does."""


class TrackResponse(BaseModel):
    """OK"""

    customer_id: str
    """The customer the usage was recorded for."""

    value: float
    """The amount recorded (for `track_tokens`, the credits the tokens cost)."""

    balance: Nullable[Balance]
    """The balance after the usage; null when the usage was queued or touched several features."""

    entity_id: OptionalNullable[str] = UNSET
    """The entity the usage was recorded against, if any."""

    event_name: OptionalNullable[str] = UNSET
    """The event that was tracked, when tracked by `event_name`."""

    balances: Optional[Dict[str, Nullable[Balance]]] = None
    """Every balance the usage touched, by feature id."""

    deductions: Optional[List[TrackDeduction]] = None
    """Each balance deducted, and by how much."""
