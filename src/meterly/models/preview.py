"""`Preview`: upgrade information returned with a denial."""

from typing import List, Literal, Union

from meterly.types import BaseModel, UnrecognizedStr

from .previewproduct import PreviewProduct

PreviewScenario = Union[Literal["usage_limit", "feature_flag"], UnrecognizedStr]
"""Why access was denied: the balance ran out (`usage_limit`) or the plan lacks the feature."""


class Preview(BaseModel):
    """Upgrade/upsell information, for a paywall or an upgrade confirmation."""

    scenario: PreviewScenario
    """The reason access was denied."""

    title: str
    """A short title to show the end user."""

    message: str
    """A message to show the end user."""

    feature_id: str
    """The feature that was checked."""

    feature_name: str
    """The feature's display name."""

    products: List[PreviewProduct]
    """Products that would give access."""
