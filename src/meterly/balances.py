"""`client.balances`: may this customer use this feature, and how much is left?"""

from __future__ import annotations

# The resources call their client's private `_request`: both are internals of one package.
# pyright: reportPrivateUsage=false
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from meterly import models
from meterly._operation import BEARER_AUTH, Operation
from meterly._options import Retries
from meterly._raw import async_to_raw_response, to_raw_response
from meterly.types import UNSET

if TYPE_CHECKING:
    from meterly.sdk import AsyncMeterly, Meterly


def _fallback(args: Mapping[str, Any], allowed: bool) -> models.CheckResponse:
    extra: Dict[str, Any] = {}
    if args.get("entity_id") is not None:
        extra["entity_id"] = args["entity_id"]
    if args.get("required_balance") is not None:
        extra["required_balance"] = args["required_balance"]
    return models.CheckResponse(allowed=allowed, customer_id=args["customer_id"], balance=None, **extra)


BALANCES_CHECK: Operation[models.CheckResponse] = Operation(
    operation_id="balancesCheck",
    sdk_call="balances.check",
    path="/v1/balances.check",
    security=BEARER_AUTH,
    request=lambda: models.BalancesCheckRequest,
    response=lambda: models.CheckResponse,
    writes="send_event",
    fallback=_fallback,
    feature_param="feature_id",
    allowed=lambda answer: answer.allowed,
)


class Balances:
    """Balance checks, synchronous."""

    def __init__(self, sdk: Meterly) -> None:
        self._sdk = sdk
        self.with_raw_response = BalancesWithRawResponse(self)

    def check(
        self,
        *,
        customer_id: str,
        feature_id: str,
        entity_id: Optional[str] = None,
        required_balance: Optional[float] = None,
        properties: Optional[Dict[str, Any]] = None,
        send_event: Optional[bool] = None,
        with_preview: Optional[bool] = None,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.CheckResponse:
        """Check whether the customer may use the feature, optionally recording usage (`send_event`).

        `POST /v1/balances.check` with `Authorization: Bearer <key>`.
        """
        return self._sdk._request(BALANCES_CHECK, locals())


class AsyncBalances:
    """Balance checks, for asyncio."""

    def __init__(self, sdk: AsyncMeterly) -> None:
        self._sdk = sdk
        self.with_raw_response = AsyncBalancesWithRawResponse(self)

    async def check(
        self,
        *,
        customer_id: str,
        feature_id: str,
        entity_id: Optional[str] = None,
        required_balance: Optional[float] = None,
        properties: Optional[Dict[str, Any]] = None,
        send_event: Optional[bool] = None,
        with_preview: Optional[bool] = None,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.CheckResponse:
        """Check whether the customer may use the feature, optionally recording usage (`send_event`).

        `POST /v1/balances.check` with `Authorization: Bearer <key>`.
        """
        return await self._sdk._request(BALANCES_CHECK, locals())


class BalancesWithRawResponse:
    """`balances.with_raw_response`: the same operations, returning a `RawResponse`."""

    def __init__(self, balances: Balances) -> None:
        self.check = to_raw_response(balances.check)


class AsyncBalancesWithRawResponse:
    """`balances.with_raw_response` for asyncio: the same operations, returning a `RawResponse`."""

    def __init__(self, balances: AsyncBalances) -> None:
        self.check = async_to_raw_response(balances.check)
