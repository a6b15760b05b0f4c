"""`balances.batch_track` (Autumn API 2.5.0): a JSON array of 1 to 1,000 track events, answered 202
`{"success": true}`. An event whose `idempotency_key` was seen in the last 24 hours (sandbox clock) is
skipped, so a resent batch counts once. Every event is checked before any is recorded: one bad event
refuses the whole batch, naming it (`[3].customer_id`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Tuple, cast

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._state import Customer, Feature
from meterly.sandbox._world import World
from meterly.sandbox.operations import Parse, Reply
from meterly.sandbox.operations._body import Body, found
from meterly.sandbox.operations._tracking import entity_of, features_of, record

MAX_EVENTS = 1_000


def read_body(raw: Any, parse: Parse) -> List[Body]:
    items: List[Any] = raw if isinstance(raw, list) else []  # pyright: ignore[reportUnknownVariableType]
    if not 1 <= len(items) <= MAX_EVENTS:
        raise ProtocolError(400, INVALID, f"the body must be a JSON array of 1 to {MAX_EVENTS} events")
    events: List[Body] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ProtocolError(400, INVALID, "must be an object")
            events.append(parse(cast(Dict[str, Any], item)))
        except ProtocolError as error:
            where = f"[{index}]" + (f".{error.param}" if error.param else "")
            raise ProtocolError(error.status, error.code, f"[{index}] {error.message}", where) from None
    return events


def handle(world: World, events: List[Body]) -> Reply:
    checked: List[Tuple[Body, Customer, List[Feature]]] = []
    for index, body in enumerate(events):
        try:
            customer = found(body, "customer_id", world.customer)
            checked.append((body, customer, features_of(world, body)))
            entity_of(world, customer, body)
        except ProtocolError as error:
            where = f"[{index}]" + (f".{error.param}" if error.param else "")
            raise ProtocolError(error.status, error.code, f"[{index}] {error.message}", where) from None
    for body, customer, features in checked:
        key = body.optional_text("idempotency_key")
        if key is not None and not world.remember_batch_key(key):
            continue
        value = body.number("value")
        units = Decimal(1) if value is None else value
        overflow = body.get("overage_behavior") == "overflow"
        entity_id = body.optional_text("entity_id")
        for feature in features:
            record(world, customer, feature, units, entity_id, overflow, with_deductions=False)
    result: Dict[str, Any] = {"success": True}
    return Reply(202, result)
