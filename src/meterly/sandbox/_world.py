"""`World`: the customers, features and plans a sandbox holds, and the balances they draw on.

It knows nothing of HTTP: its lookups raise `Missing`, which each operation turns into its service's 404.
"""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Mapping, Optional, TypeVar, Union

from meterly.sandbox._clock import SandboxClock
from meterly.sandbox._ledger import (
    BalanceJSON,
    Source,
    available,
    balance_json,
    deduct,
    per_seat_message,
    shared,
)
from meterly.sandbox._state import (
    TOKEN_KINDS,
    ZERO,
    Customer,
    Entity,
    Entry,
    Feature,
    FeatureType,
    Hold,
    Number,
    Plan,
    PlanFeature,
    dec,
    plan_feature,
)

W = TypeVar("W", bound="World")

BATCH_KEY_TTL_MS = 24 * 3600 * 1000
"""How long a `batch_track` item's `idempotency_key` is remembered (Autumn: 24 hours)."""


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
        self.holds: Dict[str, Hold] = {}
        """Balance held by checks' locks, by lock id, until finalized or expired."""
        self.batch_keys: Dict[str, int] = {}
        """`batch_track` items' idempotency keys, with when they were first seen (epoch ms)."""

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
        event_names: Iterable[str] = (),
        model_prices: Optional[Mapping[str, Mapping[str, Number]]] = None,
    ) -> W:
        """Define a feature: `boolean`, `metered`, or a `credit_system` that features in `credit_schema`
        draw on (credits, or money when `currency` is given). `event_names` are the events that record
        usage of it; a credit system's `model_prices` price AI models' tokens in credits per million
        (`{"openai/gpt-4o-mini": {"input": 0.15, "output": 0.6}}`)."""
        if type not in ("boolean", "metered", "credit_system"):
            raise ValueError(f"feature {feature_id!r}: type must be boolean, metered or credit_system")
        schema = {fid: dec(cost) for fid, cost in (credit_schema or {}).items()}
        if schema and type != "credit_system":
            raise ValueError(f"feature {feature_id!r}: only a credit_system has a credit_schema")
        for fid, cost in schema.items():
            if cost <= 0:
                raise ValueError(f"feature {feature_id!r}: the cost of {fid!r} must be > 0")
        prices: Dict[str, Dict[str, Decimal]] = {}
        for model_id, rates in (model_prices or {}).items():
            if type != "credit_system":
                raise ValueError(f"feature {feature_id!r}: only a credit_system prices models")
            unknown = sorted(set(rates) - set(TOKEN_KINDS))
            if unknown:
                raise ValueError(
                    f"feature {feature_id!r} model {model_id!r}: unknown token kind(s) {', '.join(unknown)}; "
                    f"use {', '.join(TOKEN_KINDS)}"
                )
            prices[model_id] = {kind: dec(rate) for kind, rate in rates.items()}
        with self.lock:
            self.features[feature_id] = Feature(
                feature_id, name or feature_id, type, schema, currency, list(event_names), prices
            )
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
            units = dec(amount) * source.cost
            deduct(source.entries, units, force=units > 0)
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

    def source(
        self, customer: Customer, feature: Feature, entity_id: Optional[str], needed: Optional[Decimal] = None
    ) -> Optional[Source]:
        """The balance a check of `feature` draws on: the feature's own, else a credit system covering it.

        With `needed` (units of `feature`), a feature whose own balance cannot cover it falls back to a
        credit system that can (Autumn's credit-systems3)."""
        direct = self._entries(customer, feature.id, entity_id)
        if direct:
            own = Source(feature, Decimal(1), direct)
            room = available(direct)
            if needed is None or feature.type == "boolean" or room is None or room >= needed:
                return own
        for pool in self.features.values():
            if feature.id in pool.credit_schema:
                entries = self._entries(customer, pool.id, entity_id)
                if entries:
                    cost = pool.credit_schema[feature.id]
                    room = available(entries)
                    if not direct or needed is None or room is None or room >= needed * cost:
                        return Source(pool, cost, entries)
        return Source(feature, Decimal(1), direct) if direct else None

    def event_features(self, event_name: str) -> List[Feature]:
        """The features an event records usage of; `Missing` when none does."""
        mapped = [f for f in self.features.values() if event_name in f.event_names]
        if not mapped:
            raise Missing("event", f"no feature records the event_name {event_name!r}")
        return mapped

    def model_pool(self, customer: Customer, model_id: str, feature_id: Optional[str]) -> Feature:
        """The credit system that prices `model_id` for this customer (`feature_id`'s when given);
        `Missing` when none does."""
        pools = (
            [self.feature(feature_id)]
            if feature_id is not None
            else [p for p in self.features.values() if p.model_prices and self._entries(customer, p.id, None)]
        )
        for pool in pools:
            if model_id in pool.model_prices:
                return pool
        raise Missing("model", f"no credit system prices the model_id {model_id!r}")

    def remember_batch_key(self, key: str, now_ms: Optional[int] = None) -> bool:
        """Whether `key` is new in the 24 hours before `now_ms` (default now), and remember it; old keys
        are forgotten by time."""
        now = self.clock.now_ms() if now_ms is None else now_ms
        keys = self.batch_keys
        seen = keys.get(key)
        if seen is not None and now - seen < BATCH_KEY_TTL_MS:
            return False
        # Forget expired keys from the oldest on, stopping at the first live one: a scan of every key
        # per item made a 1,000-item batch cost O(keys held). The test above is exact on its own, so a
        # key left behind (the clock set back) is still judged by its own time.
        while keys:
            oldest = next(iter(keys))
            if now - keys[oldest] < BATCH_KEY_TTL_MS:
                break
            del keys[oldest]
        keys.pop(key, None)  # re-seen after expiry: it moves to the newest end
        keys[key] = now
        return True

    # -- holds (a check's lock) -------------------------------------------------------------------

    def hold(self, hold: Hold) -> None:
        """Reserve `hold.amount` from its entries: the balance shows it as used until it is finalized."""
        deduct(hold.entries, hold.amount, force=True)
        self.holds[hold.lock_id] = hold

    def finalize(self, lock_id: str, confirm: bool, override: Optional[Decimal] = None) -> Hold:
        """Confirm (record, or record `override` units instead) or release a hold; `Missing` when there
        is no live hold under `lock_id`."""
        self.expire_holds()
        hold = self.holds.pop(lock_id, None)
        if hold is None:
            raise Missing("lock", f"no active lock {lock_id!r} (never made, already finalized, or expired)")
        if not confirm:
            deduct(hold.entries, -hold.amount)
        elif override is not None:
            deduct(hold.entries, override * hold.cost - hold.amount, force=True)
        return hold

    def expire_holds(self) -> None:
        """Give back every hold whose `expires_at` has passed on the sandbox clock."""
        if not self.holds:
            return
        now = self.clock.now_ms()
        for lock_id, hold in list(self.holds.items()):
            if hold.expires_at is not None and hold.expires_at <= now:
                del self.holds[lock_id]
                deduct(hold.entries, -hold.amount)

    def _entries(self, customer: Customer, feature_id: str, entity_id: Optional[str]) -> List[Entry]:
        """The live entries of a feature, with every reset due by now applied (and expired holds given
        back)."""
        self.expire_holds()
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
