"""`balances.check`: may this customer use this feature, and how much is left (Autumn)."""

from __future__ import annotations

from typing import Any, Dict, Mapping

from meterly import models
from meterly._declaration import BEARER_AUTH, Operation
from meterly._endpoints._services import AUTUMN_VERSION


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
    writes=("send_event", "lock"),  # a lock holds balance: a write too
    dedup="none",
    echoes=(("customer_id", "customer_id"), ("entity_id", "entity_id")),
    fallback=_fallback,
    feature_param="feature_id",
    allowed=lambda answer: answer.allowed,
    version_header=AUTUMN_VERSION,
    doc="""Check whether the customer may use the feature, optionally recording usage (`send_event`).

`POST /v1/balances.check` with `Authorization: Bearer <key>`. Use it for Autumn-style
balances: plans, granted and remaining amounts, resets, seats; `usage.check` answers what a
quantity would cost under a Commet-style consumption model instead, and records nothing.

Returns:
    The service's answer: `allowed`, the `balance` after any recorded usage, and more. Under
    `fail_open` it may be made up (`is_fallback`); with `send_event` or `lock`, its
    `usage_recorded` is False when the request never reached the service, None when it may have
    recorded the usage or held the balance.

Raises:
    errors.WriteOutcomeUnknownError: with `send_event` or `lock`, when the request may have
        reached the service and its answer was lost (Autumn does not deduplicate it, so it is never
        resent).
    errors.ResponseMismatchError: with `send_event` or `lock`, when the answer belongs to another
        request.""",
    arg_docs={
        "customer_id": "The customer whose balance is checked.",
        "feature_id": "The feature to check, e.g. `messages`.",
        "entity_id": "One entity (a seat) of the customer, for features balanced per entity.",
        "required_balance": "How much the use needs (the service's default is 1); with `send_event`, the "
        "amount recorded. A negative amount with `send_event=True` gives usage back, e.g. when the work "
        "a check paid for failed.",
        "properties": "Attached to the usage event when `send_event` is true.",
        "send_event": "Also record `required_balance` of usage when the check allows.",
        "with_preview": "When denied, include `preview`: what to show the customer (upgrade options).",
        "lock": 'Hold `required_balance` under `lock["lock_id"]` when allowed, until `balances.finalize` '
        "confirms or releases it (or `expires_at` passes).",
    },
)
