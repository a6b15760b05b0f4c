"""`usage.check`: can this customer consume this quantity, and what would it cost (Commet)."""

from __future__ import annotations

from typing import Any, Mapping

from meterly import models
from meterly._declaration import API_KEY_AUTH, Operation
from meterly._endpoints._services import COMMET_VERSION


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
    dedup="header",
    echoes=(("feature_code", "feature_code"),),
    fallback=_fallback,
    feature_param="feature_code",
    allowed=lambda answer: answer.allowed,
    version_header=COMMET_VERSION,
    doc="""Check whether the customer can consume `quantity` of the feature, with a cost estimate.

`POST /v1/usage/check` with `x-api-key: <key>`; returns the `data` of the envelope. Use it for
Commet-style consumption models (`metered`, `credits`, `balance`): it estimates and records
nothing. `balances.check` checks an Autumn-style balance, and can record the usage too.

Returns:
    Whether it is allowed, and what it would use under the feature's consumption model. Under
    `fail_open` it may be made up (`is_fallback`).""",
    arg_docs={
        "feature_code": "The feature, e.g. `api_calls`.",
        "quantity": "How many units would be consumed (at least 1).",
    },
)
