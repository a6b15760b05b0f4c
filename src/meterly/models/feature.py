"""`Feature`: a feature's definition, as later API versions include it in flags and balances."""

from typing import Literal, Union

from meterly.types import BaseModel, UnrecognizedStr

FeatureType = Union[Literal["boolean", "metered", "credit_system", "ai_credit_system"], UnrecognizedStr]
"""What kind of feature it is: on/off (`boolean`), usage-tracked (`metered`), or a credit pool."""


class Feature(BaseModel):
    """A feature as the service defines it; its other fields (credit schema, display names) are kept as
    extras."""

    id: str
    """The feature's id."""

    name: str
    """The feature's display name."""

    type: FeatureType
    """The kind of feature: boolean, metered, credit_system or ai_credit_system."""

    consumable: bool
    """For metered features: whether usage resets periodically (API calls) rather than persisting (seats)."""

    archived: bool
    """Whether the feature is archived."""
