"""`UsageEventProperty`: one property of a usage event, as Commet lists them."""

from meterly.types import BaseModel


class UsageEventProperty(BaseModel):
    """A `{"property", "value"}` pair attached to a usage event."""

    property: str
    """The property's name."""

    value: str
    """The property's value."""
