"""`balances.batch_track` (Autumn API 2.5.0): a JSON array of 1 to 1,000 track events, answered 202
`{"success": true}`. An event whose `idempotency_key` was seen in the last 24 hours (sandbox clock) is
skipped, so a resent batch counts once. Every event is checked before any is recorded: one bad event
refuses the whole batch, naming it (`[3].customer_id`).

A batch is read and recorded item by item with the same checks and the same arithmetic as one
`balances.track` each, but the common item costs less than the model's full parser and one ledger
write: an item of the plainest shape (`_plain`) is read at a glance, and a run of consecutive items
that add whole units to one balance with room for them all is recorded as one write of their total
(`_whole_run`), which leaves the same balances to the digit. Anything else takes the general path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple, Union, cast

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._ledger import available
from meterly.sandbox._state import Customer, Entry, Feature
from meterly.sandbox._world import World
from meterly.sandbox.operations import Parse, Reply
from meterly.sandbox.operations._body import found_value
from meterly.sandbox.operations._tracking import entity_named, features_named, record

MAX_EVENTS = 1_000

Value = Union[int, Decimal, None]
"""An event's `value`: a JSON integer as read, a number the full parser read (a Decimal), or None for
none given (one unit)."""

Event = Tuple[str, Optional[str], Optional[str], Optional[str], Value, bool, Optional[str]]
"""customer_id, feature_id, event_name, entity_id, value, overflow, idempotency_key."""

Item = Dict[str, Any]

_PLAIN_KEYS = frozenset(
    {
        "customer_id",
        "feature_id",
        "entity_id",
        "value",
        "properties",
        "idempotency_key",
        "timestamp",
        "overage_behavior",
    }
)
_BEHAVIOURS = ("cap", "overflow")

WHOLE_LIMIT = 10**15
"""A run is summed only from values below this (and balances below `WHOLE_LIMIT * MAX_EVENTS`), so
every sum is an integer far inside Decimal's 28 digits: exact, as each write one by one is."""


def _plain(item: Item) -> Optional[Event]:
    """The event of an item the model's parser accepts as it is: only keys it knows, none null, each
    of its plainest type (`value` a JSON integer, `feature_id` rather than `event_name`). None sends the
    item through that parser, which reads the rest and names any fault."""
    if not _PLAIN_KEYS.issuperset(item) or None in item.values():
        return None
    get = item.get
    customer_id, feature_id = get("customer_id"), get("feature_id")
    if type(customer_id) is not str or not customer_id or type(feature_id) is not str or not feature_id:
        return None
    value, timestamp = get("value", 1), get("timestamp", 0)
    if type(value) is not int or type(timestamp) is not int or timestamp < 0:
        return None
    key, entity_id, behaviour = get("idempotency_key"), get("entity_id"), get("overage_behavior")
    if key is not None and (type(key) is not str or not key):
        return None
    if entity_id is not None and (type(entity_id) is not str or not entity_id):
        return None
    if behaviour is not None and (type(behaviour) is not str or behaviour not in _BEHAVIOURS):
        return None
    if "properties" in item and type(item["properties"]) is not dict:
        return None
    return customer_id, feature_id, None, entity_id, value, behaviour == "overflow", key


def read_body(raw: Any, parse: Parse) -> List[Event]:
    items: List[Any] = raw if isinstance(raw, list) else []  # pyright: ignore[reportUnknownVariableType]
    if not 1 <= len(items) <= MAX_EVENTS:
        raise ProtocolError(400, INVALID, f"the body must be a JSON array of 1 to {MAX_EVENTS} events")
    events: List[Event] = []
    for index, item in enumerate(items):
        event = _plain(cast(Item, item)) if type(item) is dict else None
        if event is None:
            try:
                if not isinstance(item, dict):
                    raise ProtocolError(400, INVALID, "must be an object")
                body = parse(cast(Item, item))
            except ProtocolError as error:
                raise _at(index, error) from None
            event = (
                body.text("customer_id"),
                body.optional_text("feature_id"),
                body.optional_text("event_name"),
                body.optional_text("entity_id"),
                body.number("value"),
                body.get("overage_behavior") == "overflow",
                body.optional_text("idempotency_key"),
            )
        events.append(event)
    return events


def _at(index: int, error: ProtocolError) -> ProtocolError:
    where = f"[{index}]" + (f".{error.param}" if error.param else "")
    return ProtocolError(error.status, error.code, f"[{index}] {error.message}", where)


Checked = Tuple[Customer, List[Feature], Optional[str], Value, bool, Optional[str]]


def handle(world: World, events: List[Event]) -> Reply:
    checked: List[Checked] = []
    customers = world.customers
    # The features of each (feature_id, event_name) met: one list each, so a run compares them by `is`.
    named: Dict[Tuple[Optional[str], Optional[str]], List[Feature]] = {}
    for index, (customer_id, feature_id, event_name, entity_id, value, overflow, key) in enumerate(events):
        customer = customers.get(customer_id)
        features = named.get((feature_id, event_name))
        if customer is None or features is None or entity_id is not None:
            try:  # the checks of `balances.track`, in its order
                customer = found_value(customer_id, "customer_id", world.customer)
                if features is None:
                    features = named[(feature_id, event_name)] = features_named(world, feature_id, event_name)
                entity_named(world, customer, entity_id)
            except ProtocolError as error:
                raise _at(index, error) from None
        checked.append((customer, features, entity_id, value, overflow, key))
    now = world.clock.now_ms()
    run: Optional[Tuple[Customer, List[Feature], Optional[str], bool]] = None
    values: List[int] = []
    for customer, features, entity_id, value, overflow, key in checked:
        if key is not None and not world.remember_batch_key(key, now):
            continue
        if type(value) is int and 0 < value < WHOLE_LIMIT:
            if (
                run is not None
                and run[0] is customer
                and run[1] is features
                and run[2] == entity_id
                and run[3] is overflow
            ):
                values.append(value)
                continue
            # A run is recorded after its items' keys are remembered, so it must hold only writes that
            # cannot be refused: one naming no entity is refused when the balance is all per seat.
            if entity_id is not None or all(e.entity_id is None for e in customer.entries):
                _record_run(world, run, values)
                run, values = (customer, features, entity_id, overflow), [value]
                continue
        _record_run(world, run, values)
        run, values = None, []
        units = Decimal(1) if value is None else Decimal(value)
        for feature in features:
            record(world, customer, feature, units, entity_id, overflow, with_deductions=False)
    _record_run(world, run, values)
    result: Dict[str, Any] = {"success": True}
    return Reply(202, result)


def _record_run(
    world: World, run: Optional[Tuple[Customer, List[Feature], Optional[str], bool]], values: List[int]
) -> None:
    """Record a run of events alike but for their positive whole `value`s: as one write of their total
    when that is the same as writing them one by one (`_whole_run`), else one by one."""
    if run is None:
        return
    customer, features, entity_id, overflow = run
    total = sum(values)
    if len(values) > 1 and all(_whole_run(world, customer, f, entity_id, total) for f in features):
        values = [total]
    for value in values:
        units = Decimal(value)
        for feature in features:
            record(world, customer, feature, units, entity_id, overflow, with_deductions=False)


def _whole_run(
    world: World, customer: Customer, feature: Feature, entity_id: Optional[str], total: int
) -> bool:
    """Whether writing `total` units of `feature` at once leaves the same balances as writing the run's
    values one by one: the feature's own balance (no credit system) has room for all of them, so no write
    is capped and none falls back to a credit system, and every amount in it is a whole number small
    enough that each sum is exact. Deductions fill rollovers, then grants, then overage in one fixed
    order, so filling `total` at once ends where filling its parts in turn does."""
    if feature.type == "boolean":
        return False
    source = world.source(customer, feature, entity_id, needed=Decimal(total))
    if source is None or source.feature is not feature:
        return False
    if not all(_whole(entry) for entry in source.entries):
        return False
    room = available(source.entries)
    return room is None or room >= total


def _whole(entry: Entry) -> bool:
    amounts = [entry.usage, entry.included, entry.prepaid, *(r.balance for r in entry.rollovers)]
    if entry.max_purchase is not None:
        amounts.append(entry.max_purchase)
    limit = WHOLE_LIMIT * MAX_EVENTS
    return all(a.as_tuple().exponent == 0 and -limit < a < limit for a in amounts)
