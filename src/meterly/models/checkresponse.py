"""`CheckResponse`: the answer of `balances.check`."""

from typing import Any, Dict, Optional

from pydantic import Field
from typing_extensions import Annotated

from meterly.types import UNSET, Nullable, OptionalNullable

from ._fallback import FallbackAware, is_degraded, usage_recorded
from .balance import Balance
from .flag import Flag
from .preview import Preview

BALANCE_EXAMPLE: Dict[str, Any] = {
    "feature_id": "messages",
    "granted": 100,
    "remaining": 72,
    "usage": 28,
    "unlimited": False,
    "overage_allowed": False,
    "max_purchase": None,
    "next_reset_at": 1773851121437,
    "breakdown": [
        {
            "id": "cus_ent_39qmLooixXLAqMywgXywjAz96rV",
            "plan_id": "pro_plan",
            "included_grant": 100,
            "prepaid_grant": 0,
            "remaining": 72,
            "usage": 28,
            "unlimited": False,
            "reset": {"interval": "month", "resets_at": 1773851121437},
            "price": None,
            "expires_at": None,
        }
    ],
}
"""The `balance` example of the seed page; documentation only (JSON schema `examples`), never validated."""


class CheckResponse(FallbackAware):
    """OK"""

    allowed: bool
    """Whether the customer is allowed to use the feature. True if they have sufficient balance or the feature is unlimited/boolean."""  # noqa: E501

    customer_id: str
    """The ID of the customer that was checked."""

    entity_id: OptionalNullable[str] = UNSET
    """The ID of the entity, if an entity-scoped check was performed."""

    required_balance: Optional[float] = None
    """The required balance that was checked against."""

    balance: Annotated[Nullable[Balance], Field(examples=[BALANCE_EXAMPLE])]
    """The customer's balance for this feature. Null if the customer has no balance for this feature."""

    preview: Optional[Preview] = None
    """Upgrade/upsell information when access is denied. Only present if with_preview was true and allowed is false."""  # noqa: E501

    flag: OptionalNullable[Flag] = UNSET
    """The flag of a boolean feature the customer has; null for a metered feature or one the customer lacks. Sent by API versions after the seed's."""  # noqa: E501

    balances: Optional[Dict[str, Nullable[Balance]]] = None
    """Balances by feature id, the checked feature's and related ones, such as the credit system it draws on."""  # noqa: E501

    @property
    def is_degraded(self) -> bool:
        """True when the service answered 202: it was degraded and allowed access fail-open on its own.

        A real answer from the service, but not a normal one; `is_fallback` is for answers the SDK made up.
        """
        return is_degraded(self)

    @property
    def usage_recorded(self) -> Optional[bool]:
        """On a fallback (`is_fallback`): False when the call certainly recorded no usage (its request
        never reached the service), None when a `send_event` or `lock` check may have reached it, so the
        service may have counted the usage or held the balance. None on the service's own answers
        (`balance` says what was used)."""
        return usage_recorded(self)
