"""`client.balances`: may this customer use this feature, and how much is left?"""

from __future__ import annotations

# The resources call their client's private `_request`: both are internals of one package.
# pyright: reportPrivateUsage=false
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Union

from meterly import models
from meterly._operation import BEARER_AUTH, Operation, VersionHeader
from meterly._options import Retries
from meterly._raw import async_to_raw_response, to_raw_response
from meterly.types import UNSET

if TYPE_CHECKING:
    from meterly.sdk import AsyncMeterly, Meterly


AUTUMN_API_VERSION = "2.1"
"""The `x-api-version` every balances.check sends unless the client overrides it: the Autumn API version
whose shapes the models follow (the seed pages; `flag`, `balances` and `Balance.feature` of later
versions are typed as optional fields)."""


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
    version_header=VersionHeader("x-api-version", AUTUMN_API_VERSION),
)


AUTUMN_RECORDING_VERSION = "2.3.0"
"""The `x-api-version` of `balances.track`, `track_tokens` and `finalize`: the published Autumn spec
(2.3.0) whose request and answer shapes their models follow."""

AUTUMN_BATCH_VERSION = "2.5.0"
"""The `x-api-version` of `balances.batch_track`: 2.5.0 adds each event's `idempotency_key`, which makes
a resent batch count once."""

BALANCES_TRACK: Operation[models.TrackResponse] = Operation(
    operation_id="balancesTrack",
    sdk_call="balances.track",
    path="/v1/balances.track",
    security=BEARER_AUTH,
    request=lambda: models.TrackRequest,
    response=lambda: models.TrackResponse,
    writes=True,
    version_header=VersionHeader("x-api-version", AUTUMN_RECORDING_VERSION),
)

BALANCES_TRACK_TOKENS: Operation[models.TrackResponse] = Operation(
    operation_id="balancesTrackTokens",
    sdk_call="balances.track_tokens",
    path="/v1/balances.track_tokens",
    security=BEARER_AUTH,
    request=lambda: models.TrackTokensRequest,
    response=lambda: models.TrackResponse,
    writes=True,
    version_header=VersionHeader("x-api-version", AUTUMN_RECORDING_VERSION),
)

BALANCES_BATCH_TRACK: Operation[models.BatchTrackResponse] = Operation(
    operation_id="balancesBatchTrack",
    sdk_call="balances.batch_track",
    path="/v1/balances.batch_track",
    security=BEARER_AUTH,
    # The body is a JSON array of 1 to 1,000 of these (the declaration's array form comes with the
    # registry's new module layout).
    request=lambda: models.TrackEvent,
    response=lambda: models.BatchTrackResponse,
    writes=True,
    version_header=VersionHeader("x-api-version", AUTUMN_BATCH_VERSION),
)

BALANCES_FINALIZE: Operation[models.FinalizeResponse] = Operation(
    operation_id="balancesFinalize",
    sdk_call="balances.finalize",
    path="/v1/balances.finalize",
    security=BEARER_AUTH,
    request=lambda: models.FinalizeRequest,
    response=lambda: models.FinalizeResponse,
    writes=True,
    version_header=VersionHeader("x-api-version", AUTUMN_RECORDING_VERSION),
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
        lock: Optional[Union[models.Lock, models.LockTypedDict]] = None,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.CheckResponse:
        """Check whether the customer may use the feature, optionally recording usage (`send_event`).

        `POST /v1/balances.check` with `Authorization: Bearer <key>`. Use it for Autumn-style
        balances: plans, granted and remaining amounts, resets, seats; `usage.check` answers what a
        quantity would cost under a Commet-style consumption model instead, and records nothing.

        Args:
            customer_id: The customer whose balance is checked.
            feature_id: The feature to check, e.g. `messages`.
            entity_id: One entity (a seat) of the customer, for features balanced per entity.
            required_balance: How much the use needs (the service's default is 1); with
                `send_event`, the amount recorded. A negative amount with `send_event=True` gives
                usage back, e.g. when the work a check paid for failed.
            properties: Attached to the usage event when `send_event` is true.
            send_event: Also record `required_balance` of usage when the check allows.
            with_preview: When denied, include `preview`: what to show the customer (upgrade options).
            lock: Hold `required_balance` under `lock["lock_id"]` when allowed, until
                `balances.finalize` confirms or releases it (or `expires_at` passes).
            idempotency_key: Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).
            retries: This call's retry policy; UNSET uses the client's, None never retries.
            server_url: This call's server, instead of the client's.
            timeout_ms: This call's per-attempt timeout, in milliseconds.
            http_headers: Headers to add or replace on this call.

        Returns:
            The service's answer: `allowed`, the `balance` after any recorded usage, and more. Under
            `fail_open` it may be made up (`is_fallback`); such an answer recorded no usage.
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
        lock: Optional[Union[models.Lock, models.LockTypedDict]] = None,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.CheckResponse:
        """Check whether the customer may use the feature, optionally recording usage (`send_event`).

        `POST /v1/balances.check` with `Authorization: Bearer <key>`. Use it for Autumn-style
        balances: plans, granted and remaining amounts, resets, seats; `usage.check` answers what a
        quantity would cost under a Commet-style consumption model instead, and records nothing.

        Args:
            customer_id: The customer whose balance is checked.
            feature_id: The feature to check, e.g. `messages`.
            entity_id: One entity (a seat) of the customer, for features balanced per entity.
            required_balance: How much the use needs (the service's default is 1); with
                `send_event`, the amount recorded. A negative amount with `send_event=True` gives
                usage back, e.g. when the work a check paid for failed.
            properties: Attached to the usage event when `send_event` is true.
            send_event: Also record `required_balance` of usage when the check allows.
            with_preview: When denied, include `preview`: what to show the customer (upgrade options).
            lock: Hold `required_balance` under `lock["lock_id"]` when allowed, until
                `balances.finalize` confirms or releases it (or `expires_at` passes).
            idempotency_key: Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).
            retries: This call's retry policy; UNSET uses the client's, None never retries.
            server_url: This call's server, instead of the client's.
            timeout_ms: This call's per-attempt timeout, in milliseconds.
            http_headers: Headers to add or replace on this call.

        Returns:
            The service's answer: `allowed`, the `balance` after any recorded usage, and more. Under
            `fail_open` it may be made up (`is_fallback`); such an answer recorded no usage.
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
