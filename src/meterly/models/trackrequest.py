"""`TrackRequest`: the body of `balances.track`."""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional, Union

from pydantic import Field
from typing_extensions import Annotated, NotRequired, TypedDict

from meterly.types import BaseModel, UnrecognizedStr

OverageBehavior = Union[Literal["cap", "overflow"], UnrecognizedStr]
"""What usage beyond the balance does: `cap` (the service's default) deducts only what is left and stops at
zero; `overflow` deducts it all, so the balance may go negative."""


class TrackRequestTypedDict(TypedDict):
    """The body of `balances.track` as a plain dict, with Python names."""

    customer_id: str
    feature_id: NotRequired[str]
    event_name: NotRequired[str]
    entity_id: NotRequired[str]
    value: NotRequired[float]
    properties: NotRequired[Dict[str, Any]]
    timestamp: NotRequired[int]
    overage_behavior: NotRequired[Literal["cap", "overflow"]]
    async_: NotRequired[bool]


class TrackRequest(BaseModel):
    """The body of `balances.track`: usage recorded after the fact, when its amount is known."""

    customer_id: Annotated[str, Field(min_length=1, examples=["cus_pro"])]
    """The customer who used the feature."""

    feature_id: Optional[str] = Field(default=None, min_length=1, examples=["messages"])
    """The feature used. Give exactly one of `feature_id` and `event_name`."""

    event_name: Optional[str] = Field(default=None, min_length=1, examples=["chat_message"])
    """An event that the service maps to one or more features, each of which is deducted."""

    entity_id: Optional[str] = Field(default=None, min_length=1)
    """The entity (a seat, a workspace) whose balance the usage is recorded against."""

    value: Optional[float] = Field(default=None, examples=[3])
    """How much was used (the service's default is 1). Negative gives usage back, e.g. a removed seat."""

    properties: Optional[Dict[str, Any]] = None
    """Properties stored with the usage event."""

    timestamp: Optional[int] = Field(default=None, ge=0)
    """When the usage happened, in Unix milliseconds; default: when the service receives it."""

    overage_behavior: Optional[Literal["cap", "overflow"]] = None
    """`cap` (default) deducts only what is left; `overflow` deducts it all, past zero."""

    async_: Optional[bool] = Field(default=None, alias="async")
    """Queue the usage instead of recording it before answering: the answer (202) then has no balance."""
