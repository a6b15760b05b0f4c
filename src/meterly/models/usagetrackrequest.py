"""`UsageTrackRequest`: the body of `usage.track`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional

from pydantic import BeforeValidator, Field
from typing_extensions import Annotated, NotRequired, TypedDict

from meterly.types import BaseModel

from .usageeventproperty import UsageEventProperty


def _as_pairs(value: Any) -> Any:
    """Properties given as a mapping become Commet's list of `{"property", "value"}` pairs."""
    if isinstance(value, Mapping):
        return [{"property": key, "value": item} for key, item in value.items()]  # pyright: ignore[reportUnknownVariableType]
    return value


class UsageTrackRequestTypedDict(TypedDict):
    """The body of `usage.track` as a plain dict, with Python names."""

    customer_id: str
    feature_code: str
    value: NotRequired[float]
    event_id: NotRequired[str]
    timestamp: NotRequired[str]
    properties: NotRequired[List[Dict[str, str]]]


class UsageTrackRequest(BaseModel):
    """The body of `usage.track`."""

    customer_id: Annotated[str, Field(alias="customerId", min_length=1, examples=["cus_pro"])]
    """The customer who consumed the feature."""

    feature_code: Annotated[str, Field(alias="featureCode", min_length=1, examples=["api_calls"])]
    """The feature that was consumed."""

    value: Optional[float] = Field(default=None, examples=[3])
    """How much was consumed."""

    event_id: Annotated[Optional[str], Field(alias="eventId", min_length=1)] = None
    """Your id of the event, to find it again."""

    timestamp: Optional[datetime] = None
    """When the usage happened (ISO 8601); default: when the service receives it."""

    properties: Annotated[Optional[List[UsageEventProperty]], BeforeValidator(_as_pairs)] = None
    """Properties attached to the event; the SDK takes a mapping of names to values."""
