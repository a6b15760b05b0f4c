"""`Reset`: when and how often a balance's usage resets."""

from typing import Literal, Optional, Union

from meterly.types import BaseModel, Nullable, UnrecognizedStr

ResetInterval = Union[
    Literal["one_off", "minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year"],
    UnrecognizedStr,
]
"""How often usage resets; open, so an interval added by the server later still parses."""


class Reset(BaseModel):
    """The reset schedule of one breakdown entry."""

    interval: ResetInterval
    """The billing interval between resets."""

    resets_at: Nullable[float]
    """Unix timestamp (in milliseconds) of the next reset; null for one-off grants."""

    interval_count: Optional[float] = None
    """The number of intervals between usage resets."""
