"""Recording usage as Autumn's track routes do (`balances.track`, `track_tokens`, `batch_track`): the
amount deducted under `overage_behavior`, negative values given back, and the answer's balances and
deductions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._ledger import (
    BalanceJSON,
    Source,
    available,
    balance_json,
    deduct,
    deductions,
    per_seat_message,
    shared,
    usage_snapshot,
)
from meterly.sandbox._state import ZERO, Customer, Feature, json_number
from meterly.sandbox._world import World
from meterly.sandbox.operations._body import Body, found_value


def features_of(world: World, body: Body) -> List[Feature]:
    """The features a track names: its `feature_id`, or every feature its `event_name` maps to."""
    return features_named(
        world,
        body.optional_text("feature_id"),
        body.optional_text("event_name"),
        body.key("feature_id"),
        body.key("event_name"),
    )


def features_named(
    world: World,
    feature_id: Optional[str],
    event_name: Optional[str],
    feature_key: str = "feature_id",
    event_key: str = "event_name",
) -> List[Feature]:
    """`features_of` for values already read, the errors naming the JSON keys given."""
    if feature_id is None or event_name is not None:
        if feature_id is not None or event_name is None:
            raise ProtocolError(400, INVALID, "give exactly one of feature_id and event_name", feature_key)
        return found_value(event_name, event_key, world.event_features)
    feature = found_value(feature_id, feature_key, world.feature)
    if feature.type == "boolean":
        raise ProtocolError(
            400,
            INVALID,
            f"feature_id {feature.id!r} is a boolean feature: it has no usage to track",
            "feature_id",
        )
    return [feature]


def entity_of(world: World, customer: Customer, body: Body) -> Optional[str]:
    return entity_named(world, customer, body.optional_text("entity_id"), body.key("entity_id"))


def entity_named(
    world: World, customer: Customer, entity_id: Optional[str], key: str = "entity_id"
) -> Optional[str]:
    """`entity_of` for a value already read: the customer's entity `entity_id`, or a 404 naming `key`."""
    if entity_id is not None:
        found_value(entity_id, key, lambda eid: world.entity(customer, eid))
    return entity_id


def record(
    world: World,
    customer: Customer,
    feature: Feature,
    units: Decimal,
    entity_id: Optional[str],
    overflow: bool,
    *,
    with_deductions: bool = True,
) -> tuple[Optional[Source], List[Dict[str, Any]]]:
    """Deduct `units` of `feature` (negative gives back): `cap` deducts only what is left, `overflow`
    all of it. The source drawn on and its deductions (none computed `with_deductions=False`, for an
    answer that shows none); no source when the customer has no balance."""
    source = world.source(customer, feature, entity_id, needed=units if units > 0 else None)
    if source is None or source.feature.type == "boolean":
        return None, []
    if entity_id is None:
        own = shared(source)
        if own is None:
            raise ProtocolError(400, INVALID, per_seat_message(customer.id, source.feature.id), "entity_id")
        source = own
    amount = units * source.cost
    before = usage_snapshot(source.entries) if with_deductions else {}
    if overflow:  # all of it: past the grant, or given back past zero usage
        deduct(source.entries, amount, force=True)
    elif amount < 0:  # given back down to zero usage
        deduct(source.entries, amount)
    else:
        room = available(source.entries)
        deduct(source.entries, amount if room is None else min(amount, max(ZERO, room)))
    return source, deductions(source.entries, before, source.feature.id) if with_deductions else []


def answer(
    customer: Customer,
    value: Decimal,
    entity_id: Optional[str],
    event_name: Optional[str],
    sources: List[Optional[Source]],
    made: List[Dict[str, Any]],
    queued: bool,
) -> Dict[str, Any]:
    """A track's answer: one feature's balance, or for an event or a queued track `balance: null`."""
    result: Dict[str, Any] = {"customer_id": customer.id, "value": json_number(value)}
    if entity_id is not None:
        result["entity_id"] = entity_id
    if event_name is not None:
        result["event_name"] = event_name
    balances: Dict[str, BalanceJSON] = {}
    for source in sources:
        if source is not None:
            balances[source.feature.id] = balance_json(source)
    single = len(sources) == 1 and sources[0] is not None and not queued
    result["balance"] = balances[sources[0].feature.id] if single and sources[0] is not None else None
    if not queued:
        result["balances"] = balances
        result["deductions"] = made
    return result
