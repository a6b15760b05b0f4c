"""`UsageTrackRequest`: the body of `usage.track`."""

from datetime import datetime
from typing import Any, List, Mapping, Optional

from pydantic import BeforeValidator, Field
from typing_extensions import Annotated

from meterly._arg import Arg
from meterly.types import BaseModel

from .usagecheckrequest import MAX_SAFE_INTEGER
from .usageeventproperty import UsageEventProperty


def _as_pairs(value: Any) -> Any:
    """Properties given as a mapping become Commet's list of `{"property", "value"}` pairs."""
    if isinstance(value, Mapping):
        return [{"property": key, "value": item} for key, item in value.items()]  # pyright: ignore[reportUnknownVariableType]
    return value


class UsageTrackRequest(BaseModel):
    """The body of `usage.track`."""

    customer_id: Annotated[str, Field(alias="customerId", min_length=1, examples=["cus_pro"])]
    """The customer who consumed the feature."""

    feature_code: Annotated[str, Field(alias="featureCode", min_length=1, examples=["api_calls"])]
    """The feature that was consumed."""

    value: Annotated[Optional[float], Field(examples=[3]), Arg(default=1, unsent_with="model")] = None
    """How much was consumed. Left out when `model` is given at the default: Commet prices the tokens."""

    event_id: Annotated[Optional[str], Field(alias="eventId", min_length=1)] = None
    """Your id of the event, to find it again."""

    timestamp: Optional[datetime] = None
    """When the usage happened (ISO 8601); default: when the service receives it."""

    properties: Annotated[
        Optional[List[UsageEventProperty]],
        BeforeValidator(_as_pairs),
        Arg(annotation="Optional[Mapping[str, str]]"),
    ] = None
    """Properties attached to the event; the SDK takes a mapping of names to values."""

    model: Optional[str] = Field(default=None, min_length=1)
    """For AI token billing: the model that consumed the tokens."""

    input_tokens: Annotated[Optional[int], Field(alias="inputTokens", ge=0, le=MAX_SAFE_INTEGER)] = None
    """For AI token billing: the input (prompt) tokens consumed."""

    output_tokens: Annotated[Optional[int], Field(alias="outputTokens", ge=0, le=MAX_SAFE_INTEGER)] = None
    """For AI token billing: the output (completion) tokens produced."""

    cache_read_tokens: Annotated[Optional[int], Field(alias="cacheReadTokens", ge=0, le=MAX_SAFE_INTEGER)] = (
        None
    )
    """For AI token billing: the input tokens read from the provider's prompt cache."""

    cache_write_tokens: Annotated[
        Optional[int], Field(alias="cacheWriteTokens", ge=0, le=MAX_SAFE_INTEGER)
    ] = None
    """For AI token billing: the input tokens written to the provider's prompt cache."""
