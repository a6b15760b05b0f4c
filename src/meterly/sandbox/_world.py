"""`World`: the customers, features and plans a sandbox holds, and the balances they draw on.

It knows nothing of HTTP: its lookups raise `Missing`, which each operation turns into its service's 404.
"""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Mapping, Optional, TypeVar, Union

from meterly.sandbox._clock import SandboxClock
from meterly.sandbox._ledger import BalanceJSON, Source, balance_json, deduct, per_seat_message, shared
from meterly.sandbox._state import (
    ZERO,
    Customer,
    Entity,
    Entry,
    Feature,
    FeatureType,
    Number,
    Plan,
    PlanFeature,
    dec,
    plan_feature,
)

W = TypeVar("W", bound="World")


class Missing(KeyError):
    """A customer, feature or entity the world does not hold; `kind` names which."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class World:
    """Customers, features, plans and balances in memory, on a `SandboxClock`.

    Thread-safe: `lock` serializes every change (and the engine holds it for a whole request). Each
    builder returns the world, so calls chain.
    """

    def __init__(self, clock: Optional[SandboxClock] = None) -> None:
        self.clock = clock or SandboxClock()
        self.features: Dict[str, Feature] = {}
        self.plans: Dict[str, Plan] = {}
        self.customers: Dict[str, Customer] = {}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.created_at_ms = self.clock.now_ms()
        """When the catalog was made: the `created_at` of the products in previews."""

    def next_id(self, prefix: str) -> str:
        """A new id, unique in this world: `<prefix>_000001`, ..."""
        return f"{prefix}_{next(self._ids):06d}"

    # -- building ---------------------------------------------------------------------------------

    def add_feature(
        self: W,
        feature_id: str,
        name: Optional[str] = None,
        *,
        type: FeatureType = "metered",
        credit_schema: Optional[Mapping[str, Number]] = None,
        currency: Optional[str] = None,
    ) -> W:
        """Define a feature: `boolean`, `metered`, or a `credit_system` that features in `credit_schema`
        draw on (credits, or money when `currency` is given)."""
        if type not in ("boolean", "metered", "credit_system"):
            raise ValueError(f"feature {feature_id!r}: type must be boolean, metered or credit_system")
        schema = {fid: dec(cost) for fid, cost in (credit_schema or {}).items()}
        if schema and type != "credit_system":
            raise ValueError(f"feature {feature_id!r}: only a credit_system has a credit_schema")
        for fid, cost in schema.items():
            if cost <= 0:
                raise ValueError(f"feature {feature_id!r}: the cost of {fid!r} must be > 0")
        with self.lock:
            self.features[feature_id] = Feature(feature_id, name or feature_id, type, schema, currency)
        return self

    def add_plan(
        self: W,
        plan_id: str,
        name: Optional[str] = None,
        *,
        features: Iterable[Union[PlanFeature, Mapping[str, Any]]] = (),
        add_on: bool = False,
    ) -> W:
        """Define a plan; each feature is a `PlanFeature` or its seed dict (`{"feature_id": ..., ...}`)."""
        items = [f if isinstance(f, PlanFeature) else plan_feature(f) for f in features]
        with self.lock:
            for item in items:
                self.feature(item.feature_id)
            self.plans[plan_id] = Plan(plan_id, name or plan_id, items, add_on)
        return self

    def add_customer(
        self: W,
        customer_id: str,
        name: Optional[str] = None,
        *,
        email: Optional[str] = None,
        plans: Iterable[str] = (),
        entities: Iterable[Union[str, Entity]] = (),
    ) -> W:
        """Add a customer on `plans`, with `entities` (seats) that per-entity features give balances to."""
        with self.lock:
            if customer_id in self.customers:
                raise ValueError(f"customer {customer_id!r} already exists")
            self.customers[customer_id] = Customer(customer_id, name, email)
            for entity in entities:
                if isinstance(entity, Entity):
                    self.add_entity(customer_id, entity.id, entity.name)
                else:
                    self.add_entity(customer_id, entity)
            for plan_id in plans:
                self.attach_plan(customer_id, plan_id)
        return self

    def add_entity(self: W, customer_id: str, entity_id: str, name: Optional[str] = None) -> W:
        """Add an entity (a seat) to a customer; it gets its own balance of every per-entity feature."""
        with self.lock:
            customer = self.customer(customer_id)
            if entity_id in customer.entities:
                raise ValueError(f"customer {customer_id!r} already has entity {entity_id!r}")
            customer.entities[entity_id] = Entity(entity_id, name)
            now = self.clock.now_ms()
            for plan_id in customer.plans:
                for pf in self.plans[plan_id].features:
                    if pf.per_entity:
                        customer.entries.append(self._entry(plan_id, pf, now, entity_id))
        return self

    def attach_plan(self: W, customer_id: str, plan_id: str, *, started_at_ms: Optional[int] = None) -> W:
        """Put a customer on a plan from `started_at_ms` (default now): its features become balances."""
        with self.lock:
            customer = self.customer(customer_id)
            plan = self.plans.get(plan_id)
            if plan is None:
                raise KeyError(f"no plan {plan_id!r}")
            anchor = self.clock.now_ms() if started_at_ms is None else started_at_ms
            customer.plans.append(plan_id)
            for pf in plan.features:
                scopes: List[Optional[str]] = list(customer.entities) if pf.per_entity else [None]
                for entity_id in scopes:
                    customer.entries.append(self._entry(plan_id, pf, anchor, entity_id))
        return self

    def grant(
        self: W,
        customer_id: str,
        feature_id: str,
        amount: Number = 0,
        *,
        entity_id: Optional[str] = None,
        unlimited: bool = False,
        interval: str = "one_off",
        expires_at: Optional[int] = None,
        overage_allowed: bool = False,
        max_purchase: Optional[Number] = None,
    ) -> W:
        """Give a customer (or one entity) `amount` of a feature outside any plan, e.g. a top-up.

        `interval` makes it reset like a plan's allowance (default `one_off`); `expires_at` (epoch ms)
        ends it; `unlimited`, `overage_allowed` and `max_purchase` work as in a plan.

            engine.grant("cus_free", "messages", 10)
        """
        with self.lock:
            customer = self.customer(customer_id)
            self.feature(feature_id)
            if entity_id is not None:
                self.entity(customer, entity_id)
            pf = PlanFeature(
                feature_id,
                prepaid=dec(amount),
                unlimited=unlimited,
                interval=interval,
                overage_allowed=overage_allowed,
                max_purchase=None if max_purchase is None else dec(max_purchase),
            )
            entry = self._entry(None, pf, self.clock.now_ms(), entity_id)
            entry.expires_at = expires_at
            customer.entries.append(entry)
        return self

    def track(
        self: W, customer_id: str, feature_id: str, amount: Number = 1, *, entity_id: Optional[str] = None
    ) -> W:
        """Record usage whatever the limits (as a usage event would); a negative amount gives usage back.

        Without `entity_id` the usage is the customer's own: a feature the customer has only per entity
        (seat) raises ValueError, as a `send_event` check without `entity_id` is refused.

            engine.track("cus_pro", "messages", 5)
        """
        with self.lock:
            customer = self.customer(customer_id)
            feature = self.feature(feature_id)
            if entity_id is not None:
                self.entity(customer, entity_id)
            source = self.source(customer, feature, entity_id)
            if source is None:
                raise ValueError(f"customer {customer_id!r} has no balance of {feature_id!r}")
            if entity_id is None:
                own = shared(source)
                if own is None:
                    raise ValueError(per_seat_message(customer.id, source.feature.id))
                source = own
            deduct(source.entries, dec(amount) * source.cost, force=True)
        return self

    def balance(
        self, customer_id: str, feature_id: str, *, entity_id: Optional[str] = None
    ) -> Optional[BalanceJSON]:
        """The `Balance` object a check of this feature would show now (None when there is none).

        A plain dict with the API's JSON names (`granted`, `remaining`, `usage`, `breakdown`, ...); for a
        feature drawn from a credit system, the balance of that system. With `entity_id`, that entity's
        view (its own balance plus the customer's shared ones).

            engine.balance("cus_team", "messages", entity_id="seat_alice")["remaining"]  # 1
        """
        with self.lock:
            customer = self.customer(customer_id)
            if entity_id is not None:
                self.entity(customer, entity_id)
            source = self.source(customer, self.feature(feature_id), entity_id)
            if source is None or source.feature.type == "boolean":
                return None
            return balance_json(source)

    # -- lookups ----------------------------------------------------------------------------------

    def customer(self, customer_id: str) -> Customer:
        """The customer `customer_id`; `Missing` when there is none."""
        customer = self.customers.get(customer_id)
        if customer is None:
            raise Missing("customer", f"no customer {customer_id!r}")
        return customer

    def feature(self, feature_id: str) -> Feature:
        """The feature `feature_id`; `Missing` when there is none."""
        feature = self.features.get(feature_id)
        if feature is None:
            raise Missing("feature", f"no feature {feature_id!r}")
        return feature

    def entity(self, customer: Customer, entity_id: str) -> Entity:
        """The customer's entity `entity_id`; `Missing` when it has none."""
        entity = customer.entities.get(entity_id)
        if entity is None:
            raise Missing("entity", f"customer {customer.id!r} has no entity {entity_id!r}")
        return entity

    def source(self, customer: Customer, feature: Feature, entity_id: Optional[str]) -> Optional[Source]:
        """The balance a check of `feature` draws on: the feature's own, else a credit system covering it."""
        direct = self._entries(customer, feature.id, entity_id)
        if direct:
            return Source(feature, Decimal(1), direct)
        for pool in self.features.values():
            if feature.id in pool.credit_schema:
                entries = self._entries(customer, pool.id, entity_id)
                if entries:
                    return Source(pool, pool.credit_schema[feature.id], entries)
        return None

    def _entries(self, customer: Customer, feature_id: str, entity_id: Optional[str]) -> List[Entry]:
        """The live entries of a feature, with every reset due by now applied."""
        now = self.clock.now_ms()
        entries = [
            e
            for e in customer.entries
            if e.feature_id == feature_id
            and e.active(now)
            and (entity_id is None or e.entity_id in (None, entity_id))
        ]
        for entry in entries:
            entry.catch_up(now)
        return entries

    def _entry(
        self, plan_id: Optional[str], pf: PlanFeature, anchor_ms: int, entity_id: Optional[str]
    ) -> Entry:
        boolean = self.feature(pf.feature_id).type == "boolean"
        return Entry(
            id=self.next_id("cus_ent"),
            feature_id=pf.feature_id,
            plan_id=plan_id,
            entity_id=entity_id,
            anchor_ms=anchor_ms,
            included=ZERO if boolean else pf.included,
            prepaid=ZERO if boolean else pf.prepaid,
            unlimited=boolean or pf.unlimited,
            interval="one_off" if boolean else pf.interval,
            interval_count=pf.interval_count,
            overage_allowed=pf.overage_allowed,
            max_purchase=pf.max_purchase,
            price=pf.price,
            rollover=pf.rollover,
        )
