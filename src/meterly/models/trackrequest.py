"""`TrackRequest`: the body of `balances.track`."""

from datetime import datetime
from typing import Any, Dict, Literal, Optional, Union

from pydantic import BeforeValidator, Field
from typing_extensions import Annotated

from meterly._arg import Arg
from meterly.types import BaseModel, UnrecognizedStr

OverageBehavior = Union[Literal["cap", "overflow"], UnrecognizedStr]
"""What usage beyond the balance does: `cap` (the service's default) deducts only what is left and stops at
zero; `overflow` deducts it all, so the balance may go negative."""


def _as_unix_ms(value: Any) -> Any:
    """A `datetime` becomes Unix milliseconds (a naive one is local time, as `datetime.timestamp` reads
    it); an int is taken as milliseconds already."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a datetime or Unix milliseconds (int), got {type(value).__name__}")
    return value


UnixMillis = Annotated[
    Optional[int], BeforeValidator(_as_unix_ms), Field(ge=0), Arg(annotation="Optional[Union[datetime, int]]")
]
"""A timestamp on the wire in Unix milliseconds, taken by the method as a `datetime` or such an int."""


class TrackRequest(BaseModel):
    """The body of `balances.track`: usage recorded after the fact, when its amount is known."""

    customer_id: Annotated[str, Field(min_length=1, examples=["cus_pro"])]
    """The customer who used the feature."""

    feature_id: Optional[str] = Field(default=None, min_length=1, examples=["messages"])
    """The feature used. Give exactly one of `feature_id` and `event_name`."""

    event_name: Optional[str] = Field(default=None, min_length=1)
    """An event that the service maps to one or more features, each of which is deducted."""

    entity_id: Optional[str] = Field(default=None, min_length=1)
    """The entity (a seat, a workspace) whose balance the usage is recorded against."""

    value: Optional[float] = Field(default=None, examples=[3])
    """How much was used (the service's default is 1). Negative gives usage back."""

    properties: Annotated[Optional[Dict[str, Any]], Arg(annotation="Optional[Mapping[str, Any]]")] = None
    """Properties stored with the usage event."""

    timestamp: UnixMillis = None
    """When the usage happened, in Unix milliseconds."""

    overage_behavior: Optional[Literal["cap", "overflow"]] = None
    """`cap` (default) deducts only what is left; `overflow` deducts it all, past zero."""

    async_: Optional[bool] = Field(default=None, alias="async")
    """Queue the usage instead of recording it before answering: the answer (202) then has no balance."""
