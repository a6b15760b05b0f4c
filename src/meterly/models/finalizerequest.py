"""`FinalizeRequest` and `FinalizeResponse`: the body and the answer of `balances.finalize`."""

from typing import Any, Dict, Literal, Optional, Union

from pydantic import Field
from typing_extensions import Annotated

from meterly._arg import Arg
from meterly.types import BaseModel, UnrecognizedStr

FinalizeAction = Union[Literal["confirm", "release"], UnrecognizedStr]
"""`confirm` records the held usage; `release` gives the held balance back."""


class FinalizeRequest(BaseModel):
    """The body of `balances.finalize`: what becomes of a hold made by `balances.check(lock=...)`."""

    lock_id: Annotated[str, Field(min_length=1, examples=["lock_gen_42"])]
    """The `lock_id` the check held the balance under."""

    action: Annotated[Literal["confirm", "release"], Field(examples=["confirm"])]
    """`confirm` records the held usage; `release` gives the held balance back."""

    override_value: Optional[float] = Field(default=None, ge=0, examples=[3])
    """With `confirm`: the amount actually used, recorded instead of the amount held."""

    properties: Annotated[Optional[Dict[str, Any]], Arg(annotation="Optional[Mapping[str, Any]]")] = None
    """Properties stored with the usage event a confirmation records."""


class FinalizeResponse(BaseModel):
    """OK"""

    success: bool
    """True when the lock was confirmed or released."""
