"""`usage.track` (Commet): record a usage event. It deducts as a balances.check with `send_event` does: all
of it when the balance covers it, else nothing. Past a metered feature's hard limit (no overage) the event
is refused, 402 `included_limit_reached`; credits and balances answer `consumption.blocked` instead.

AI token usage (`model`, `inputTokens`, `outputTokens`, `cacheReadTokens`, `cacheWriteTokens`) is priced
per model by the credit system the feature draws on (the seed's `model_prices`); an unknown model is a
404 `model_not_found`, tokens of a kind without a price a 400 naming the field."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, NamedTuple, Optional, cast

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._ledger import available, deduct, left, shared
from meterly.sandbox._state import ZERO, json_number
from meterly.sandbox._world import World
from meterly.sandbox.operations import Parse, read_object
from meterly.sandbox.operations._body import Body, found

TOKEN_KEYS = {
    "inputTokens": "input",
    "outputTokens": "output",
    "cacheReadTokens": "cache_read",
    "cacheWriteTokens": "cache_write",
}
"""Commet's token fields and the kind of model price each is priced by."""

MILLION = Decimal(1_000_000)


class Tracked(NamedTuple):
    body: Body
    model: Optional[str]
    tokens: Dict[str, int]


def read_body(raw: Any, parse: Parse) -> Tracked:
    """The event, and its token fields read from the JSON whether or not the request model has them."""
    body = read_object(raw, parse)
    values = cast(Dict[str, Any], raw)
    model = values.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise ProtocolError(400, INVALID, "model must be a non-empty string", "model")
    tokens: Dict[str, int] = {}
    for key in TOKEN_KEYS:
        if values.get(key) is None:
            continue
        count = values[key]
        if isinstance(count, Decimal) and count == count.to_integral_value():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ProtocolError(400, INVALID, f"{key} must be a whole number at least 0", key)
        tokens[key] = count
    if tokens and model is None:
        raise ProtocolError(400, INVALID, "model is required with token counts", "model")
    if model is not None and not {"inputTokens", "outputTokens"} <= set(tokens):
        missing = "inputTokens" if "inputTokens" not in tokens else "outputTokens"
        raise ProtocolError(400, INVALID, f"{missing} is required with model", missing)
    if model is not None and body.get("value") is not None:
        raise ProtocolError(400, INVALID, "value goes without model: tokens are priced by the model", "value")
    return Tracked(body, model, tokens)


def handle(world: World, tracked: Tracked) -> Dict[str, Any]:
    body = tracked.body
    customer = found(body, "customer_id", world.customer)
    feature = found(body, "feature_code", world.feature)
    value = body.number("value")
    amount = Decimal(1) if value is None else value  # Commet's default: one unit
    source = world.source(customer, feature, None)
    if source is not None:
        own = shared(source)  # an event is the customer's own: it never lands on one seat
        if own is None:
            message = (
                f"customer {customer.id!r} has {source.feature.id!r} per entity (seat) only: "
                "a usage event records the customer's own usage"
            )
            raise ProtocolError(400, INVALID, message, body.key("feature_code"))
        source = own
    cost = None if source is None else source.cost
    if tracked.model is not None:
        amount = _priced(world, source, tracked)
        cost = Decimal(1)  # already in the credit system's units
    now = _iso_time(world.clock.now_ms())
    event: Dict[str, Any] = {
        "id": world.next_id("evt_sbx"),
        "featureCode": feature.id,
        "value": json_number(amount),
        "customerId": customer.id,
        "eventId": body.optional_text("event_id"),
        "ts": body.optional_text("timestamp") or now,
        "createdAt": now,
        "properties": body.records("properties"),
    }
    if source is not None and source.feature.type != "boolean" and cost is not None:
        needed = amount * cost
        room = available(source.entries)
        allowed = room is None or room >= needed
        if not allowed and source.feature.type != "credit_system":
            raise ProtocolError(
                402,
                "included_limit_reached",
                f"{feature.id!r} is past its included limit and allows no overage: nothing was recorded",
                body.key("feature_code"),
            )
        if allowed:
            deduct(source.entries, needed)
        if source.feature.type == "credit_system":
            event["consumption"] = {
                "model": "credits" if source.feature.currency is None else "balance",
                "deducted": json_number(needed if allowed else ZERO),
                "remaining": json_number(left(source.entries)),
                "blocked": not allowed,
            }
    return {**event, "object": "usage_event"}


def _priced(world: World, source: Any, tracked: Tracked) -> Decimal:
    """The credits a model's tokens cost in the credit system the feature draws on."""
    model = tracked.model
    assert model is not None
    if not any(model in pool.model_prices for pool in world.features.values()):
        raise ProtocolError(404, "model_not_found", f"no model {model!r} in the catalog", "model")
    if source is None or source.feature.type != "credit_system" or model not in source.feature.model_prices:
        raise ProtocolError(
            400, INVALID, f"the feature draws on no credit system that prices {model!r}", "model"
        )
    prices = source.feature.model_prices[model]
    credits = ZERO
    for key, count in tracked.tokens.items():
        if count == 0:
            continue
        price = prices.get(TOKEN_KEYS[key])
        if price is None:
            raise ProtocolError(
                400, INVALID, f"{key}: the model {model!r} has no {TOKEN_KEYS[key]} price", key
            )
        credits += Decimal(count) * price / MILLION
    return credits


def _iso_time(ms: int) -> str:
    """A sandbox clock reading as ISO 8601 in UTC, to the millisecond (`2026-01-01T00:00:00.000Z`)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
