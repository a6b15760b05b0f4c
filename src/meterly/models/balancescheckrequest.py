"""`BalancesCheckRequest`: the body of `balances.check`."""

from __future__ import annotations

from typing import Any, Dict, Optional

from typing_extensions import NotRequired, TypedDict

from meterly.types import BaseModel


class BalancesCheckRequestTypedDict(TypedDict):
    """The body of `balances.check` as a plain dict."""

    customer_id: str
    feature_id: str
    entity_id: NotRequired[str]
    required_balance: NotRequired[float]
    properties: NotRequired[Dict[str, Any]]
    send_event: NotRequired[bool]
    with_preview: NotRequired[bool]


class BalancesCheckRequest(BaseModel):
    """The body of `balances.check`."""

    customer_id: str
    """ID which you provided when creating the customer"""

    feature_id: str
    """ID of the feature to check access to."""

    entity_id: Optional[str] = None
    """If using entity balances (eg, seats), the entity ID to check access for."""

    required_balance: Optional[float] = None
    """If you know the amount of the feature the end user is consuming in advance. If their balance is below this quantity, allowed will be false."""  # noqa: E501

    properties: Optional[Dict[str, Any]] = None
    """Properties to attach to the usage event when send_event is true."""

    send_event: Optional[bool] = None
    """If true, a usage event will be recorded together with checking access. The required_balance field will be used as the usage value."""  # noqa: E501

    with_preview: Optional[bool] = None
    """If true, the response will include a preview object, which can be used to display information such as a paywall or upgrade confirmation."""  # noqa: E501
