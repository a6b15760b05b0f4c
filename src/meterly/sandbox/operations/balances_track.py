"""`balances.track` (Autumn; also served at `/v1/track`): record usage after the fact. `cap` (default)
deducts only what is left, `overflow` all of it; a negative value gives usage back; an `event_name`
records every feature it maps to; `async` answers 202 with `balance: null`. Not deduplicated: a resent
track counts again, as on Autumn."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional, Union

from meterly.sandbox._ledger import Source
from meterly.sandbox._world import World
from meterly.sandbox.operations import Reply
from meterly.sandbox.operations._body import Body, found
from meterly.sandbox.operations._tracking import answer, entity_of, features_of, record

NOT_EMULATED = ("customer_data", "entity_data", "idempotency_key", "skip_event")
"""Older API versions' track fields (autumn-python sends them when asked): creating customers on the fly,
a body idempotency key on a single track, tracking without an event."""


def handle(world: World, body: Body) -> Union[Dict[str, Any], Reply]:
    customer = found(body, "customer_id", world.customer)
    features = features_of(world, body)
    entity_id = entity_of(world, customer, body)
    value = body.number("value")
    units = Decimal(1) if value is None else value
    overflow = body.get("overage_behavior") == "overflow"
    sources: List[Optional[Source]] = []
    made: List[Dict[str, Any]] = []
    for feature in features:
        source, deducted = record(world, customer, feature, units, entity_id, overflow)
        sources.append(source)
        made.extend(deducted)
    queued = body.flag("async_")
    result = answer(customer, units, entity_id, body.optional_text("event_name"), sources, made, queued)
    return Reply(202, result) if queued else result
