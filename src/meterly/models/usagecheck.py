"""`UsageCheck`: the answer of `usage.check`."""

from typing import Literal, Optional, Union

from pydantic import Field
from typing_extensions import Annotated

from meterly.types import UNSET, OptionalNullable, UnrecognizedStr

from ._fallback import FallbackAware

ConsumptionModel = Union[Literal["metered", "credits", "balance"], UnrecognizedStr]
"""How the plan charges for the feature."""

UsageDenyReason = Union[
    Literal["included_limit_reached", "insufficient_credits", "insufficient_balance"], UnrecognizedStr
]
"""Why a usage check was denied."""


class UsageCheck(FallbackAware):
    """Availability and cost estimate for consuming a feature; fields beyond the first three depend on
    the consumption model."""

    allowed: bool
    """Whether the customer may consume the quantity."""

    feature_code: Annotated[str, Field(alias="featureCode")]
    """The feature that was checked."""

    quantity: int
    """The quantity that was checked."""

    consumption_model: Annotated[Optional[ConsumptionModel], Field(alias="consumptionModel")] = None
    """How the plan charges for the feature: metered, credits or balance."""

    subscription_status: Annotated[Optional[str], Field(alias="subscriptionStatus")] = None
    """The status of the customer's subscription, e.g. `active` or `trialing`."""

    reason: Optional[UsageDenyReason] = None
    """Why the check was denied."""

    message: Optional[str] = None
    """A readable explanation."""

    current: Optional[float] = None
    """Usage so far in the current period (metered)."""

    remaining: Optional[float] = None
    """What is left of the included amount (metered)."""

    unlimited: Optional[bool] = None
    """Whether the feature has no limit."""

    included: Optional[float] = None
    """The amount included by the plan (metered)."""

    overage_enabled: Annotated[Optional[bool], Field(alias="overageEnabled")] = None
    """Whether usage beyond the included amount is billed instead of denied."""

    overage_unit_price: Annotated[OptionalNullable[float], Field(alias="overageUnitPrice")] = UNSET
    """The price of one unit beyond the included amount; null when such usage has no price."""

    credits_per_unit: Annotated[Optional[int], Field(alias="creditsPerUnit")] = None
    """Credits consumed per unit (credits)."""

    estimated_credits: Annotated[Optional[int], Field(alias="estimatedCredits")] = None
    """Credits the quantity would consume (credits)."""

    plan_credits: Annotated[Optional[int], Field(alias="planCredits")] = None
    """Credits left from the plan (credits)."""

    purchased_credits: Annotated[Optional[int], Field(alias="purchasedCredits")] = None
    """Credits left from purchases (credits)."""

    total_credits: Annotated[Optional[int], Field(alias="totalCredits")] = None
    """All credits left (credits)."""

    unit_price: Annotated[Optional[float], Field(alias="unitPrice")] = None
    """The price of one unit (balance)."""

    estimated_amount: Annotated[Optional[float], Field(alias="estimatedAmount")] = None
    """What the quantity would cost (balance)."""

    current_balance: Annotated[Optional[float], Field(alias="currentBalance")] = None
    """The customer's balance (balance)."""

    block_on_exhaustion: Annotated[Optional[bool], Field(alias="blockOnExhaustion")] = None
    """Whether consumption is denied once the balance is exhausted (balance)."""

    currency: Optional[str] = None
    """The currency of the amounts."""

    object: Optional[str] = None
    """Always `usage_check`."""

    livemode: Optional[bool] = None
    """False for test-mode keys."""
