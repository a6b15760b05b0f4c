"""`BalancesCheckRequest`: the body of `balances.check`."""

from typing import Any, Dict, Optional

from pydantic import Field
from typing_extensions import Annotated

from meterly._arg import Arg
from meterly.types import BaseModel

from .lock import Lock


class BalancesCheckRequest(BaseModel):
    """The body of `balances.check`."""

    customer_id: Annotated[str, Field(min_length=1, examples=["cus_pro"])]
    """ID which you provided when creating the customer"""

    feature_id: Annotated[str, Field(min_length=1, examples=["messages"])]
    """ID of the feature to check access to."""

    entity_id: Optional[str] = Field(default=None, min_length=1)
    """If using entity balances (eg, seats), the entity ID to check access for."""

    required_balance: Optional[float] = Field(default=None, examples=[1])
    """If you know the amount of the feature the end user is consuming in advance. If their balance is below this quantity, allowed will be false."""  # noqa: E501

    properties: Optional[Dict[str, Any]] = None
    """Properties to attach to the usage event when send_event is true."""

    send_event: Optional[bool] = None
    """If true, a usage event will be recorded together with checking access. The required_balance field will be used as the usage value."""  # noqa: E501

    with_preview: Optional[bool] = None
    """If true, the response will include a preview object, which can be used to display information such as a paywall or upgrade confirmation."""  # noqa: E501

    lock: Annotated[Optional[Lock], Arg(annotation="Optional[Union[models.Lock, models.LockTypedDict]]")] = (
        None
    )
    """Reserve `required_balance` under `lock.lock_id` when allowed; `balances.finalize` then confirms or
    releases the hold."""
