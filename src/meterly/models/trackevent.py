"""`TrackEvent`: one item of `balances.batch_track`'s body (a JSON array), and `BatchTrackResponse`."""

# no `from __future__ import annotations`: the TypedDict reads NotRequired at run time
from typing import Any, Dict, Literal, Optional

from pydantic import Field, model_validator
from typing_extensions import Annotated, NotRequired, TypedDict

from meterly.types import BaseModel


class TrackEventTypedDict(TypedDict):
    """A `TrackEvent` as a plain dict, with Python names."""

    customer_id: str
    feature_id: NotRequired[str]
    event_name: NotRequired[str]
    entity_id: NotRequired[str]
    value: NotRequired[float]
    properties: NotRequired[Dict[str, Any]]
    idempotency_key: NotRequired[str]
    timestamp: NotRequired[int]
    overage_behavior: NotRequired[Literal["cap", "overflow"]]


class TrackEvent(BaseModel):
    """One usage event of a batch; the fields of `balances.track`, plus `idempotency_key`."""

    customer_id: Annotated[str, Field(min_length=1, examples=["cus_pro"])]
    """The customer who used the feature."""

    feature_id: Optional[str] = Field(default=None, min_length=1, examples=["messages"])
    """The feature used. Give exactly one of `feature_id` and `event_name`."""

    event_name: Optional[str] = Field(default=None, min_length=1)
    """An event that the service maps to one or more features."""

    entity_id: Optional[str] = Field(default=None, min_length=1)
    """The entity (a seat, a workspace) whose balance the usage is recorded against."""

    value: Optional[float] = Field(default=None, examples=[1])
    """How much was used (default 1); negative gives usage back."""

    properties: Optional[Dict[str, Any]] = None
    """Properties stored with the usage event."""

    idempotency_key: Optional[str] = Field(default=None, min_length=1, max_length=255)
    """A second event with the same key within 24 hours is ignored (Autumn API 2.5.0): resending a batch
    counts each event once. The SDK fills in a fresh key for an event without one."""

    timestamp: Optional[int] = Field(default=None, ge=0)
    """When the usage happened, in Unix milliseconds."""

    overage_behavior: Optional[Literal["cap", "overflow"]] = None
    """`cap` (default) deducts only what is left; `overflow` deducts it all, past zero."""

    @model_validator(mode="after")
    def _one_feature_or_event(self) -> "TrackEvent":
        if (self.feature_id is None) == (self.event_name is None):
            raise ValueError("give exactly one of `feature_id` and `event_name`")
        return self


class BatchTrackResponse(BaseModel):
    """Accepted (202): the events are queued and recorded shortly after; the answer has no balances."""

    success: bool
    """True when the batch was queued."""
