"""`PreviewProduct`: a product offered in a denial preview."""

from meterly.types import BaseModel


class PreviewProduct(BaseModel):
    """A product the customer could buy to get access; other product fields are kept as extras."""

    id: str
    """The product's id."""

    name: str
    """The product's display name."""
