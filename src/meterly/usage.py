"""`client.usage`: can this customer consume this quantity, and what would it cost?"""

from __future__ import annotations

# The resources call their client's private `_request`: both are internals of one package.
# pyright: reportPrivateUsage=false
from typing import TYPE_CHECKING, Any, Mapping, Optional

from meterly import models
from meterly._operation import API_KEY_AUTH, Operation, Param, check_count, check_id, json_parser
from meterly._pipeline import Retries
from meterly._raw import async_to_raw_response, to_raw_response
from meterly.types import UNSET

if TYPE_CHECKING:
    from meterly.sdk import AsyncMeterly, Meterly

COMMET_API_VERSION = "2026-08-27"
"""The `Commet-Version` every usage.check sends unless the client overrides it: the dated version that
commet-sdk 9.7.0 pins, whose `UsageCheck` fields (`subscriptionStatus` among them) the models type."""

_parse_envelope = json_parser(lambda: models.UsageCheckResponse)


def _parse(content: bytes) -> models.UsageCheck:
    return _parse_envelope(content).data


def _fallback(args: Mapping[str, Any], allowed: bool) -> models.UsageCheck:
    return models.UsageCheck(allowed=allowed, feature_code=args["feature_code"], quantity=args["quantity"])


USAGE_CHECK: Operation[models.UsageCheck] = Operation(
    operation_id="usageCheck",
    path="/v1/usage/check",
    security=API_KEY_AUTH,
    params=(
        Param("customer_id", "customerId", check_id, required=True),
        Param("feature_code", "featureCode", check_id, required=True),
        Param("quantity", "quantity", check_count, required=True),
    ),
    parse=_parse,
    fallback=_fallback,
    feature_param="feature_code",
    resource="usage",
    version_header=("commet-version", COMMET_API_VERSION),
)


class Usage:
    """Usage checks, synchronous."""

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
        args = {"customer_id": customer_id, "feature_code": feature_code, "quantity": quantity}
        return self._sdk._request(
            USAGE_CHECK, args, idempotency_key, retries, server_url, timeout_ms, http_headers
        )


class AsyncUsage:
    """Usage checks, for asyncio."""

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
        args = {"customer_id": customer_id, "feature_code": feature_code, "quantity": quantity}
        return await self._sdk._request(
            USAGE_CHECK, args, idempotency_key, retries, server_url, timeout_ms, http_headers
        )


class UsageWithRawResponse:
    """`usage.with_raw_response`: the same operations, returning a `RawResponse`."""

    def __init__(self, usage: Usage) -> None:
        self.check = to_raw_response(usage.check)


class AsyncUsageWithRawResponse:
    """`usage.with_raw_response` for asyncio: the same operations, returning a `RawResponse`."""

    def __init__(self, usage: AsyncUsage) -> None:
        self.check = async_to_raw_response(usage.check)
