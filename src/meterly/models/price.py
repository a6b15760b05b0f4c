"""`Price`: how usage beyond the included grant is billed."""

from typing import Literal, Optional, Union

from meterly.types import BaseModel, Nullable, UnrecognizedStr

BillingMethod = Union[Literal["prepaid", "usage_based"], UnrecognizedStr]
"""Whether the feature is bought in advance or billed for what was used."""


class Price(BaseModel):
    """The price attached to a breakdown entry."""

    billing_units: float
    """How many units one price step buys."""

    billing_method: BillingMethod
    """Prepaid or usage-based billing."""

    max_purchase: Nullable[float]
    """The most that can be bought; null for no limit."""

    amount: Optional[float] = None
    """The price of one step of `billing_units`."""
