"""What the web integrations share: checking their arguments once, and the default body of a denial."""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

from meterly import models
from meterly._registry import BY_ID
from meterly.errors import RequestValidationError

DENIED_STATUS = 402
"""Payment Required: the answer to a request the customer's plan does not cover."""

DeniedBody = Callable[[models.CheckResponse], Any]
"""Builds the JSON body of a denial from the check's answer."""


def default_denied_body(result: models.CheckResponse) -> Dict[str, Any]:
    """The default body of a denial: what was denied, and the paywall preview when the service sent one.

    `fallback_reason` is set when the denial is a fail-open fallback (the service could not be asked).
    """
    preview = result.preview
    return {
        "code": "feature_not_allowed",
        "message": "this customer's plan does not allow this feature, or its balance is too low",
        "preview": None if preview is None else preview.model_dump(mode="json", by_alias=True),
        "fallback_reason": result.fallback_reason,
    }


def check_gate(
    feature_id: Any,
    options: Mapping[str, Any],
    *,
    status: Any,
    body: Optional[Callable[..., Any]],
    customer: Any,
    entity: Any = None,
) -> Dict[str, Any]:
    """Checks a gate's arguments when it is defined; gives the `balances.check` keywords it sends.

    `feature_id` and `options` (`required_balance`, `send_event`, `with_preview`, `properties`; None
    leaves one out) go through `balances.check`'s own compiled body checks, so a gate refuses exactly
    what the call would, but at definition instead of on every request. Bad arguments raise
    RequestValidationError naming the argument.
    """
    params = {param.name: param for param in BY_ID["balancesCheck"].params}
    params["feature_id"].check("feature_id", feature_id)
    for name, value in options.items():
        if value is not None:
            params[name].check(name, value)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise RequestValidationError("status_code", f"must be an HTTP status code, got {status!r}")
    if body is not None and not callable(body):
        raise RequestValidationError("denied_body", "must be a callable taking the CheckResponse")
    if not callable(customer):
        raise RequestValidationError("customer", "must be a callable that gives the customer id")
    if entity is not None and not callable(entity):
        raise RequestValidationError("entity", "must be a callable that gives the entity id, or None")
    return {"feature_id": feature_id, **options}
