"""`UsageCheckRequest`: the body of `usage.check`."""

from pydantic import Field
from typing_extensions import Annotated

from meterly._arg import Arg
from meterly.types import BaseModel

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON parser reads exactly."""


class UsageCheckRequest(BaseModel):
    """The body of `usage.check`."""

    customer_id: Annotated[str, Field(alias="customerId", min_length=1, examples=["cus_pro"])]
    """The customer who would consume the feature."""

    feature_code: Annotated[str, Field(alias="featureCode", min_length=1, examples=["api_calls"])]
    """The feature to be consumed."""

    quantity: Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER, examples=[3]), Arg(default=1)]
    """How many units would be consumed."""
