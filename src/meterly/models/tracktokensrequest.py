"""`TrackTokensRequest`: the body of `balances.track_tokens`."""

from typing import Any, Dict, Literal, Optional

from pydantic import Field
from typing_extensions import Annotated

from meterly._arg import Arg
from meterly.types import BaseModel

from .trackrequest import UnixMillis


class TrackTokensRequest(BaseModel):
    """The body of `balances.track_tokens`: an AI model's token usage, priced by the service per model."""

    customer_id: Annotated[str, Field(min_length=1, examples=["cus_pro"])]
    """The customer whose AI credits pay for the tokens."""

    model_id: Annotated[str, Field(min_length=1, examples=["openai/gpt-4o-mini"])]
    """The model, as `provider/model`."""

    input_tokens: Annotated[int, Field(ge=0, examples=[1200])]
    """Prompt tokens."""

    output_tokens: Annotated[int, Field(ge=0, examples=[350])]
    """Completion tokens."""

    cache_read_tokens: Optional[int] = Field(default=None, ge=0)
    """Prompt tokens read from the provider's cache."""

    cache_write_tokens: Optional[int] = Field(default=None, ge=0)
    """Prompt tokens written to the provider's cache."""

    audio_input_tokens: Optional[int] = Field(default=None, ge=0)
    """Audio prompt tokens."""

    audio_output_tokens: Optional[int] = Field(default=None, ge=0)
    """Audio completion tokens."""

    reasoning_tokens: Optional[int] = Field(default=None, ge=0)
    """Reasoning tokens, when the provider counts them apart from output tokens."""

    feature_id: Optional[str] = Field(default=None, min_length=1)
    """The AI credit system to deduct from; by default the service finds the customer's."""

    entity_id: Optional[str] = Field(default=None, min_length=1)
    """The entity (a seat, a workspace) whose balance the usage is recorded against."""

    properties: Annotated[Optional[Dict[str, Any]], Arg(annotation="Optional[Mapping[str, Any]]")] = None
    """Properties stored with the usage event."""

    timestamp: UnixMillis = None
    """When the usage happened, in Unix milliseconds."""

    overage_behavior: Optional[Literal["cap", "overflow"]] = None
    """`cap` (default) deducts only what is left; `overflow` deducts it all, past zero."""

    async_: Optional[bool] = Field(default=None, alias="async")
    """Queue the usage instead of recording it before answering: the answer (202) then has no balance."""
