"""`client.usage`: can this customer consume this quantity, what would it cost, and recording what it did
consume."""

from __future__ import annotations

# The resources call their client's private `_request`: both are internals of one package.
# pyright: reportPrivateUsage=false
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

from meterly import models
from meterly._operation import API_KEY_AUTH, Operation, VersionHeader
from meterly._options import Retries
from meterly._raw import async_to_raw_response, to_raw_response
from meterly.types import UNSET

if TYPE_CHECKING:
    from meterly.sdk import AsyncMeterly, Meterly

COMMET_API_VERSION = "2026-08-27"
"""The `Commet-Version` every usage operation sends unless the client overrides it: the dated version
that commet-sdk 9.7.0 pins, whose `UsageCheck` fields (`subscriptionStatus` among them) the models type."""

COMMET_VERSION = VersionHeader("commet-version", COMMET_API_VERSION)


def _fallback(args: Mapping[str, Any], allowed: bool) -> models.UsageCheck:
    return models.UsageCheck(allowed=allowed, feature_code=args["feature_code"], quantity=args["quantity"])


USAGE_CHECK: Operation[models.UsageCheck] = Operation(
    operation_id="usageCheck",
    sdk_call="usage.check",
    path="/v1/usage/check",
    security=API_KEY_AUTH,
    request=lambda: models.UsageCheckRequest,
    response=lambda: models.UsageCheck,
    envelope=lambda: models.UsageCheckResponse,
    fallback=_fallback,
    feature_param="feature_code",
    allowed=lambda answer: answer.allowed,
    version_header=COMMET_VERSION,
)

USAGE_TRACK: Operation[models.UsageEvent] = Operation(
    operation_id="usageTrack",
    sdk_call="usage.track",
    path="/v1/usage/events",
    security=API_KEY_AUTH,
    request=lambda: models.UsageTrackRequest,
    response=lambda: models.UsageEvent,
    envelope=lambda: models.UsageTrackResponse,
    writes=True,  # no fallback: a failure to record usage is never hidden by a made-up answer
    version_header=COMMET_VERSION,
)


class Usage:
    """Usage checks and usage events, synchronous."""

    def __init__(self, sdk: Meterly) -> None:
        self._sdk = sdk
        self.with_raw_response = UsageWithRawResponse(self)

    def check(
        self,
        *,
        customer_id: str,
        feature_code: str,
        quantity: int = 1,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.UsageCheck:
        """Check whether the customer can consume `quantity` of the feature, with a cost estimate.

        `POST /v1/usage/check` with `x-api-key: <key>`; returns the `data` of the envelope. Use it for
        Commet-style consumption models (`metered`, `credits`, `balance`): it estimates and records
        nothing. `balances.check` checks an Autumn-style balance, and can record the usage too.

        Args:
            customer_id: The customer who would consume the feature.
            feature_code: The feature, e.g. `api_calls`.
            quantity: How many units would be consumed (at least 1).
            idempotency_key: Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).
            retries: This call's retry policy; UNSET uses the client's, None never retries.
            server_url: This call's server, instead of the client's.
            timeout_ms: This call's per-attempt timeout, in milliseconds.
            http_headers: Headers to add or replace on this call.

        Returns:
            Whether it is allowed, and what it would use under the feature's consumption model. Under
            `fail_open` it may be made up (`is_fallback`).
        """
        return self._sdk._request(USAGE_CHECK, locals())

    def track(
        self,
        *,
        customer_id: str,
        feature_code: str,
        value: float = 1,
        event_id: Optional[str] = None,
        timestamp: Union[datetime, str, None] = None,
        properties: Optional[Mapping[str, str]] = None,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.UsageEvent:
        """Record that the customer consumed `value` of the feature; credits or a balance are drawn on.

        `POST /v1/usage/events` with `x-api-key: <key>`; returns the `data` of the envelope. A write: it
        is never answered by `fail_open`, and its retries send the same `Idempotency-Key`, so the event
        is recorded once.

        Args:
            customer_id: The customer who consumed the feature.
            feature_code: The feature, e.g. `api_calls`.
            value: How much was consumed (default 1).
            event_id: Your id of the event, to find it again.
            timestamp: When it happened: a `datetime` or ISO 8601 text (default: when it arrives).
            properties: Names and values (str) to attach to the event.
            idempotency_key: Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).
            retries: This call's retry policy; UNSET uses the client's, None never retries.
            server_url: This call's server, instead of the client's.
            timeout_ms: This call's per-attempt timeout, in milliseconds.
            http_headers: Headers to add or replace on this call.

        Returns:
            The event as recorded, with what it drew from credits or a balance (`consumption`).
        """
        return self._sdk._request(USAGE_TRACK, locals())


class AsyncUsage:
    """Usage checks and usage events, for asyncio."""

    def __init__(self, sdk: AsyncMeterly) -> None:
        self._sdk = sdk
        self.with_raw_response = AsyncUsageWithRawResponse(self)

    async def check(
        self,
        *,
        customer_id: str,
        feature_code: str,
        quantity: int = 1,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.UsageCheck:
        """Check whether the customer can consume `quantity` of the feature, with a cost estimate.

        `POST /v1/usage/check` with `x-api-key: <key>`; returns the `data` of the envelope. Use it for
        Commet-style consumption models (`metered`, `credits`, `balance`): it estimates and records
        nothing. `balances.check` checks an Autumn-style balance, and can record the usage too.

        Args:
            customer_id: The customer who would consume the feature.
            feature_code: The feature, e.g. `api_calls`.
            quantity: How many units would be consumed (at least 1).
            idempotency_key: Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).
            retries: This call's retry policy; UNSET uses the client's, None never retries.
            server_url: This call's server, instead of the client's.
            timeout_ms: This call's per-attempt timeout, in milliseconds.
            http_headers: Headers to add or replace on this call.

        Returns:
            Whether it is allowed, and what it would use under the feature's consumption model. Under
            `fail_open` it may be made up (`is_fallback`).
        """
        return await self._sdk._request(USAGE_CHECK, locals())

    async def track(
        self,
        *,
        customer_id: str,
        feature_code: str,
        value: float = 1,
        event_id: Optional[str] = None,
        timestamp: Union[datetime, str, None] = None,
        properties: Optional[Mapping[str, str]] = None,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> models.UsageEvent:
        """Record that the customer consumed `value` of the feature; credits or a balance are drawn on.

        `POST /v1/usage/events` with `x-api-key: <key>`; returns the `data` of the envelope. A write: it
        is never answered by `fail_open`, and its retries send the same `Idempotency-Key`, so the event
        is recorded once.

        Args:
            customer_id: The customer who consumed the feature.
            feature_code: The feature, e.g. `api_calls`.
            value: How much was consumed (default 1).
            event_id: Your id of the event, to find it again.
            timestamp: When it happened: a `datetime` or ISO 8601 text (default: when it arrives).
            properties: Names and values (str) to attach to the event.
            idempotency_key: Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).
            retries: This call's retry policy; UNSET uses the client's, None never retries.
            server_url: This call's server, instead of the client's.
            timeout_ms: This call's per-attempt timeout, in milliseconds.
            http_headers: Headers to add or replace on this call.

        Returns:
            The event as recorded, with what it drew from credits or a balance (`consumption`).
        """
        return await self._sdk._request(USAGE_TRACK, locals())


class UsageWithRawResponse:
    """`usage.with_raw_response`: the same operations, returning a `RawResponse`."""

    def __init__(self, usage: Usage) -> None:
        self.check = to_raw_response(usage.check)
        self.track = to_raw_response(usage.track)


class AsyncUsageWithRawResponse:
    """`usage.with_raw_response` for asyncio: the same operations, returning a `RawResponse`."""

    def __init__(self, usage: AsyncUsage) -> None:
        self.check = async_to_raw_response(usage.check)
        self.track = async_to_raw_response(usage.track)
