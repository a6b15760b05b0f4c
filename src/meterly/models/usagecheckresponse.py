"""`UsageCheckResponse`: the `{"success": true, "data": {...}}` envelope of `usage.check`."""

from meterly.types import BaseModel

from .usagecheck import UsageCheck


class UsageCheckResponse(BaseModel):
    """The envelope; `usage.check` returns its `data`."""

    success: bool
    """True for a successful answer."""

    data: UsageCheck
    """The check result."""
