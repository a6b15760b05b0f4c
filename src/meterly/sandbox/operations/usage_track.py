"""`usage.track` (Commet): record a usage event. It deducts as a balances.check with `send_event` does: all
of it when the balance covers it, else nothing (credits and balances then answer `consumption.blocked`)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._ledger import available, deduct, left, shared
from meterly.sandbox._state import ZERO, json_number
from meterly.sandbox._world import World
from meterly.sandbox.operations._body import Body, found


def handle(world: World, body: Body) -> Dict[str, Any]:
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
    if source is not None and source.feature.type != "boolean":
        needed = amount * source.cost
        room = available(source.entries)
        allowed = room is None or room >= needed
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


def _iso_time(ms: int) -> str:
    """A sandbox clock reading as ISO 8601 in UTC, to the millisecond (`2026-01-01T00:00:00.000Z`)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
