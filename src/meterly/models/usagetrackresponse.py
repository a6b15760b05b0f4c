"""`UsageTrackResponse`: the `{"success": true, "data": {...}}` envelope of `usage.track`."""

from meterly.types import BaseModel

from .usageevent import UsageEvent


class UsageTrackResponse(BaseModel):
    """The envelope; `usage.track` returns its `data`."""

    success: bool
    """True for a successful answer."""

    data: UsageEvent
    """The recorded event."""
