"""`UsageEvent`: the answer of `usage.track`, the event as recorded."""

from typing import List, Optional

from pydantic import Field
from typing_extensions import Annotated

from meterly.types import BaseModel, Nullable

from .usageeventconsumption import UsageEventConsumption
from .usageeventproperty import UsageEventProperty


class UsageEvent(BaseModel):
    """A recorded usage event."""

    id: str
    """The service's id of the event."""

    feature_code: Annotated[str, Field(alias="featureCode")]
    """The feature the usage was recorded for."""

    value: float
    """The amount of usage recorded."""

    customer_id: Annotated[str, Field(alias="customerId")]
    """The customer the usage was recorded for."""

    event_id: Annotated[Nullable[str], Field(alias="eventId")]
    """The caller's id of the event, if it gave one."""

    ts: str
    """When the usage happened (ISO 8601): the request's `timestamp`, else when it was received."""

    created_at: Annotated[str, Field(alias="createdAt")]
    """When the event was recorded (ISO 8601)."""

    properties: List[UsageEventProperty]
    """The properties attached to the event."""

    consumption: Optional[UsageEventConsumption] = None
    """What the event drew from credits or a balance; absent for plainly metered features."""

    object: Optional[str] = None
    """Always `usage_event`."""

    livemode: Optional[bool] = None
    """False for test-mode keys."""
