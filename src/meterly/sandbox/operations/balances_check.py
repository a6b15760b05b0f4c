"""`balances.check` (Autumn; also served at `/v1/check` and `/v1/entitled`): whether a customer may use a
feature, its balance, and with `send_event` the usage recorded in the same step; with `lock` the amount
held until `balances.finalize` (or the lock's expiry); `with_preview` adds the paywall of a refusal. A
feature whose own balance cannot cover the amount falls back to a credit system that can. Not
deduplicated: a resent `send_event` check counts again, as on Autumn."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, Optional

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._ledger import (
    BalanceJSON,
    Source,
    available,
    balance_json,
    deduct,
    per_seat_message,
    shared,
)
from meterly.sandbox._state import Customer, Feature, Hold, Plan, PlanFeature, json_number
from meterly.sandbox._world import World
from meterly.sandbox.operations._body import Body, found

NOT_EMULATED = ("customer_data", "entity_data")
"""Older API versions' fields for creating the customer or entity on the fly: the sandbox's customers come
from its seed."""


def handle(world: World, body: Body) -> Dict[str, Any]:
    customer = found(body, "customer_id", world.customer)
    feature = found(body, "feature_id", world.feature)
    entity_id = body.optional_text("entity_id")
    if entity_id is not None:
        found(body, "entity_id", lambda eid: world.entity(customer, eid))
    properties = body.mapping("properties")
    for key in ("name", "email"):
        value = properties.get(key)
        if isinstance(value, str) and value and getattr(customer, key) is None:
            setattr(customer, key, value)
    required_balance = body.number("required_balance")
    required = Decimal(1) if required_balance is None else required_balance
    send_event = body.flag("send_event")
    lock = body.nested("lock")
    if lock is not None and send_event:
        raise ProtocolError(
            400, INVALID, "lock holds the balance and send_event records it: send one of them", "lock"
        )
    source = world.source(customer, feature, entity_id, needed=required)
    if source is not None and (send_event or lock is not None) and entity_id is None:
        # Usage without an entity_id is the customer's own: it never lands on one seat's balance.
        own = shared(source)
        if own is None:
            raise ProtocolError(
                400, INVALID, per_seat_message(customer.id, source.feature.id), body.key("entity_id")
            )
        source = own
    balance: Optional[BalanceJSON] = None
    flag: Optional[Dict[str, Any]] = None
    if source is None:
        allowed = False
    elif source.feature.type == "boolean":
        allowed = True
        entry = source.entries[0]
        flag = {
            "id": entry.id,
            "plan_id": entry.plan_id,
            "expires_at": entry.expires_at,
            "feature_id": feature.id,
        }
        if lock is not None:  # a flag has nothing to hold; the lock still exists until finalized
            _hold(world, customer, Source(source.feature, source.cost, []), Decimal(0), None, lock)
    else:
        # An action priced by a credit system is checked in credits: `required` units cost
        # `required * cost` credits, and the answer says so (as Autumn's does).
        required = required * source.cost
        room = available(source.entries)
        allowed = room is None or room >= required
        if allowed and send_event:
            deduct(source.entries, required)
        if lock is not None:
            allowed = _hold(world, customer, source, required, room, lock)
        balance = balance_json(source)
    answer: Dict[str, Any] = {"allowed": allowed, "customer_id": customer.id, "feature_id": feature.id}
    if entity_id is not None:
        answer["entity_id"] = entity_id
    answer["required_balance"] = json_number(required)
    answer["balance"] = balance
    answer["flag"] = flag
    if balance is not None:
        answer["balances"] = {balance["feature_id"]: balance}
    if body.flag("with_preview") and not allowed:
        answer["preview"] = _preview(
            world, customer, feature, "feature_flag" if source is None else "usage_limit"
        )
    return answer


def _hold(
    world: World, customer: Customer, source: Source, required: Decimal, room: Optional[Decimal], lock: Body
) -> bool:
    """Hold `required` under the lock's id as its `overage_behavior` says: `reject` (default) holds all
    or nothing, `cap` what is left, `overflow` all of it; whether the check allows."""
    lock_id = lock.text("lock_id")
    if lock_id in world.holds:
        raise ProtocolError(409, "lock_already_exists", f"the lock {lock_id!r} is active", "lock.lock_id")
    expires_at = lock.get("expires_at")
    if expires_at is not None and expires_at <= world.clock.now_ms():
        raise ProtocolError(400, INVALID, "lock.expires_at must be in the future", "lock.expires_at")
    behavior = lock.get("overage_behavior") or "reject"
    held = required
    if room is not None and room < required:
        if behavior == "reject":
            return False
        if behavior == "cap":
            held = max(Decimal(0), room)
    world.hold(Hold(lock_id, customer.id, source.feature.id, source.cost, held, source.entries, expires_at))
    return True


def _preview(world: World, customer: Customer, feature: Feature, scenario: str) -> Dict[str, Any]:
    products = [
        _product_json(world, plan)
        for plan in world.plans.values()
        if plan.id not in customer.plans and _plan_gives(world, plan, feature)
    ]
    if scenario == "usage_limit":
        title, message = (
            f"{feature.name} limit reached",
            f"You have used all your {feature.name}. Upgrade for more.",
        )
    else:
        title, message = (
            f"Upgrade to use {feature.name}",
            f"{feature.name} is not included in your current plan.",
        )
    return {
        "scenario": scenario,
        "title": title,
        "message": message,
        "feature_id": feature.id,
        "feature_name": feature.name,
        "products": products,
    }


def _product_json(world: World, plan: Plan) -> Dict[str, Any]:
    """A plan as an Autumn product, with every field Autumn's product requires."""
    return {
        "id": plan.id,
        "name": plan.name,
        "group": None,
        "env": "sandbox",
        "is_add_on": plan.add_on,
        "is_default": False,
        "archived": False,
        "version": 1,
        "created_at": world.created_at_ms,
        "items": [_item_json(world, pf) for pf in plan.features],
        "free_trial": None,
        "base_variant_id": None,
    }


def _item_json(world: World, pf: PlanFeature) -> Dict[str, Any]:
    """A plan feature as an Autumn product item."""
    boolean = world.feature(pf.feature_id).type == "boolean"
    item: Dict[str, Any] = {
        "type": "priced_feature" if pf.price is not None else "feature",
        "feature_id": pf.feature_id,
        "feature_type": "boolean" if boolean else "single_use",
        "included_usage": None if boolean else "inf" if pf.unlimited else json_number(pf.included),
        "interval": None if boolean or pf.interval == "one_off" else pf.interval,
        "interval_count": None if boolean else pf.interval_count,
        "price": None,
    }
    if pf.price is not None:
        item.update(
            price=json_number(pf.price.amount),
            billing_units=json_number(pf.price.billing_units),
            usage_model="pay_per_use" if pf.price.billing_method == "usage_based" else "prepaid",
        )
    return item


def _plan_gives(world: World, plan: Plan, feature: Feature) -> bool:
    for pf in plan.features:
        if pf.feature_id == feature.id:
            return True
        pool = world.features.get(pf.feature_id)
        if pool is not None and feature.id in pool.credit_schema:
            return True
    return False
