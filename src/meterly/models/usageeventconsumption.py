"""`UsageEventConsumption`: what recording a usage event drew from credits or a balance."""

from typing import Literal, Union

from meterly.types import BaseModel, UnrecognizedStr

UsageEventConsumptionModel = Union[Literal["credits", "balance"], UnrecognizedStr]
"""What a usage event drew from: credits, or a money balance."""


class UsageEventConsumption(BaseModel):
    """The deduction a usage event made, for features that draw on credits or a balance."""

    model: UsageEventConsumptionModel
    """What the event drew from: credits or balance."""

    deducted: float
    """How much was deducted (credits, or an amount of money)."""

    remaining: float
    """What is left after the deduction."""

    blocked: bool
    """True when what is left did not cover the event, so nothing was deducted."""
