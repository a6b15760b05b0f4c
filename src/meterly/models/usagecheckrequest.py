"""`UsageCheckRequest`: the body of `usage.check`."""

from __future__ import annotations

from pydantic import Field
from typing_extensions import Annotated, TypedDict

from meterly.types import BaseModel


class UsageCheckRequestTypedDict(TypedDict):
    """The body of `usage.check` as a plain dict, with Python names."""

    customer_id: str
    feature_code: str
    quantity: int


class UsageCheckRequest(BaseModel):
    """The body of `usage.check`."""

    customer_id: Annotated[str, Field(alias="customerId")]
    """The customer who would consume the feature."""

    feature_code: Annotated[str, Field(alias="featureCode")]
    """The feature to be consumed."""

    quantity: int
    """How many units would be consumed."""
