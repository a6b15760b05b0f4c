"""`Lock`: a reservation made by `balances.check`, later confirmed or released by `balances.finalize`."""

# no `from __future__ import annotations`: the TypedDict reads NotRequired at run time
from typing import Any, Literal, Optional, Union

from pydantic import Field
from typing_extensions import Annotated, NotRequired, TypedDict

from meterly.types import BaseModel, UnrecognizedStr

LockOverageBehavior = Union[Literal["reject", "cap", "overflow"], UnrecognizedStr]
"""What a lock beyond the available balance does: `reject` (the service's default) allows nothing and
holds nothing, `cap` holds only what is left, `overflow` holds it all (the balance may go negative)."""


class LockTypedDict(TypedDict):
    """A `Lock` as a plain dict."""

    lock_id: str
    enabled: NotRequired[Literal[True]]
    expires_at: NotRequired[int]
    overage_behavior: NotRequired[Literal["reject", "cap", "overflow"]]


class Lock(BaseModel):
    """Hold `required_balance` under `lock_id` when the check allows; `balances.finalize` with the same
    `lock_id` then confirms the hold (the usage is recorded) or releases it (the balance comes back)."""

    lock_id: Annotated[str, Field(min_length=1, examples=["lock_gen_42"])]
    """Your id for this reservation: pass it to `balances.finalize`."""

    enabled: Literal[True] = True
    """Always true."""

    # The service reserves only when asked explicitly: `enabled` is sent even at its default.

    expires_at: Optional[int] = Field(default=None, ge=0)
    """When an unfinalized hold is given back by itself, in Unix milliseconds."""

    overage_behavior: Optional[Literal["reject", "cap", "overflow"]] = None
    """What a lock beyond the available balance does (Autumn API 2.5.0)."""

    def model_post_init(self, context: Any, /) -> None:
        # `enabled` is a constant the service requires: it is sent even when left at its default.
        self.__pydantic_fields_set__.add("enabled")
