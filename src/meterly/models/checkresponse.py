"""`CheckResponse`: the answer of `balances.check`."""

from __future__ import annotations

from typing import Optional

from meterly.types import UNSET, Nullable, OptionalNullable

from ._fallback import FallbackAware
from .balance import Balance
from .preview import Preview


class CheckResponse(FallbackAware):
    """OK"""

    allowed: bool
    """Whether the customer is allowed to use the feature. True if they have sufficient balance or the feature is unlimited/boolean."""  # noqa: E501

    customer_id: str
    """The ID of the customer that was checked."""

    balance: Nullable[Balance]
    """The customer's balance for this feature. Null if the customer has no balance for this feature."""

    entity_id: OptionalNullable[str] = UNSET
    """The ID of the entity, if an entity-scoped check was performed."""

    required_balance: Optional[float] = None
    """The required balance that was checked against."""

    preview: Optional[Preview] = None
    """Upgrade/upsell information when access is denied. Only present if with_preview was true and allowed is false."""  # noqa: E501
