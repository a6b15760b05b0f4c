"""`SandboxEngine`: an in-memory Meterly, answering both operations with the service's semantics."""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, ClassVar, Deque, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from meterly._operation import Operation
from meterly.sandbox._clock import SandboxClock
from meterly.sandbox._faults import Faults
from meterly.sandbox._protocol import (
    INVALID,
    MAX_IDEMPOTENCY_KEY,
    ROUTES,
    BalancesCheckInput,
    ProtocolError,
    SandboxResponse,
    UsageCheckInput,
    UsageTrackInput,
    enveloped,
    error_response,
    fingerprint,
    json_response,
    new_request_id,
    parse_balances_check,
    parse_body,
    parse_usage_check,
    parse_usage_track,
    presented_key,
    scheme_hint,
)
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
    PriceRule,
    dec,
    json_number,
)

DEFAULT_API_KEY = "sk_test_sandbox"
"""The key every sandbox accepts unless it was given others."""

COMMET_API_KEY = "ck_test_sandbox"
"""A key in Commet's format (its official client refuses keys without `ck_` or `rk_`), accepted beside
`DEFAULT_API_KEY` unless the sandbox was given other keys."""

IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000
IDEMPOTENCY_MAX_KEYS = 10_000
HISTORY_SIZE = 1_000

Seed = Union[Mapping[str, Any], str, Path]


@dataclass(frozen=True)
class SandboxCall:
    """One request the engine answered, as kept in `engine.history` (never with its API key)."""

    operation_id: Optional[str]
    path: str
    status: int
    request_id: str
    body: Optional[Dict[str, Any]]
    idempotency_key: Optional[str]
    replayed: bool = False
    dropped: bool = False


@dataclass
class _Source:
    """Where a check draws from: the feature holding the balance, the cost of one unit, the entries."""

    feature: Feature
    cost: Decimal
    entries: List[Entry]


class SandboxEngine:
    """Customers, features, plans and balances in memory, behind the same HTTP contract as Meterly.

    Thread-safe: one lock serializes every request and every change, so a `send_event` deduction is
    atomic. Build one with the methods below (each returns the engine, so calls chain), from a seed
    (`from_seed`), or take the demo data (`demo`).

    Attributes:
        clock: The engine's `SandboxClock`; `engine.clock.advance(seconds)` moves it (resets included).
        faults: The engine's `Faults`: latency, error rate, outage, `fail_next(n)`, `drop_next(n)`.
        history: The last 1,000 requests answered, oldest first, as `SandboxCall`s (never with a key).
        features, plans, customers: What the engine holds, by id.

        engine = SandboxEngine.demo()
        engine.clock.advance(32 * 24 * 3600)
        engine.faults.fail_next(1)
        print(engine.history[-1].status if engine.history else "no request yet")
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY, COMMET_API_KEY),
        clock: Optional[SandboxClock] = None,
        faults: Optional[Faults] = None,
    ) -> None:
        self.clock = clock or SandboxClock()
        self.faults = faults or Faults()
        self.features: Dict[str, Feature] = {}
        self.plans: Dict[str, Plan] = {}
        self.customers: Dict[str, Customer] = {}
        self.history: Deque[SandboxCall] = deque(maxlen=HISTORY_SIZE)
        self._api_keys = {key for key in api_keys}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._idempotency: OrderedDict[Tuple[str, str], Tuple[str, SandboxResponse, int]] = OrderedDict()
        self.created_at_ms = self.clock.now_ms()
        """When the catalog was made: the `created_at` of the products in previews."""

    def __repr__(self) -> str:
        return (
            f"SandboxEngine(customers={len(self.customers)}, features={len(self.features)}, "
            f"plans={len(self.plans)})"
        )

    # -- construction -----------------------------------------------------------------------------

    @classmethod
    def demo(cls, **kwargs: Any) -> SandboxEngine:
        """An engine holding the demo customers, features and plans (see `meterly.sandbox.DEMO_SEED`).

        `kwargs` go to the constructor (`api_keys`, `clock`, `faults`).

            engine = SandboxEngine.demo()
            engine.balance("cus_free", "messages")  # granted 5, usage 3
        """
        from meterly.sandbox._seed import DEMO_SEED

        return cls.from_seed(DEMO_SEED, **kwargs)

    @classmethod
    def from_seed(cls, data: Seed, **kwargs: Any) -> SandboxEngine:
        """An engine built from a seed: a dict, or the path of a JSON file holding one.

        The seed's `api_keys` and `clock` apply unless `kwargs` give their own; an unknown key in the
        seed is a ValueError (`python -m meterly.sandbox --print-demo-seed` shows the format).

            engine = SandboxEngine.from_seed("seed.json")
        """
        from meterly.sandbox._seed import apply_seed, read_seed

        seed = read_seed(data)
        if "api_keys" in seed:
            kwargs.setdefault("api_keys", seed["api_keys"])
        if "clock" in seed:
            clock = seed["clock"]
            start = None if clock.get("now_ms") is None else clock["now_ms"] / 1000
            kwargs.setdefault("clock", SandboxClock(start, frozen=bool(clock.get("frozen", False))))
        engine = cls(**kwargs)
        apply_seed(engine, seed)
        return engine

    @property
    def api_keys(self) -> List[str]:
        """The keys this sandbox accepts, for either auth scheme."""
        return sorted(self._api_keys)

    def add_api_key(self, key: str) -> SandboxEngine:
        """Accept `key` too."""
        if not isinstance(key, str) or not key:
            raise ValueError("an API key must be a non-empty string")
        with self._lock:
            self._api_keys.add(key)
        return self

    def add_feature(
        self,
        feature_id: str,
        name: Optional[str] = None,
        *,
        type: FeatureType = "metered",
        credit_schema: Optional[Mapping[str, Number]] = None,
        currency: Optional[str] = None,
    ) -> SandboxEngine:
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
        with self._lock:
            self.features[feature_id] = Feature(feature_id, name or feature_id, type, schema, currency)
        return self

    def add_plan(
        self,
        plan_id: str,
        name: Optional[str] = None,
        *,
        features: Iterable[Union[PlanFeature, Mapping[str, Any]]] = (),
        add_on: bool = False,
    ) -> SandboxEngine:
        """Define a plan; each feature is a `PlanFeature` or its seed dict (`{"feature_id": ..., ...}`)."""
        from meterly.sandbox._seed import plan_feature

        items = [f if isinstance(f, PlanFeature) else plan_feature(f) for f in features]
        with self._lock:
            for item in items:
                self._feature(item.feature_id)
            self.plans[plan_id] = Plan(plan_id, name or plan_id, items, add_on)
        return self

    def add_customer(
        self,
        customer_id: str,
        name: Optional[str] = None,
        *,
        email: Optional[str] = None,
        plans: Iterable[str] = (),
        entities: Iterable[Union[str, Entity]] = (),
    ) -> SandboxEngine:
        """Add a customer on `plans`, with `entities` (seats) that per-entity features give balances to."""
        with self._lock:
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

    def add_entity(self, customer_id: str, entity_id: str, name: Optional[str] = None) -> SandboxEngine:
        """Add an entity (a seat) to a customer; it gets its own balance of every per-entity feature."""
        with self._lock:
            customer = self._customer(customer_id)
            if entity_id in customer.entities:
                raise ValueError(f"customer {customer_id!r} already has entity {entity_id!r}")
            customer.entities[entity_id] = Entity(entity_id, name)
            now = self.clock.now_ms()
            for plan_id in customer.plans:
                for pf in self.plans[plan_id].features:
                    if pf.per_entity:
                        customer.entries.append(self._entry(customer, plan_id, pf, now, entity_id))
        return self

    def attach_plan(
        self, customer_id: str, plan_id: str, *, started_at_ms: Optional[int] = None
    ) -> SandboxEngine:
        """Put a customer on a plan from `started_at_ms` (default now): its features become balances."""
        with self._lock:
            customer = self._customer(customer_id)
            plan = self.plans.get(plan_id)
            if plan is None:
                raise KeyError(f"no plan {plan_id!r}")
            anchor = self.clock.now_ms() if started_at_ms is None else started_at_ms
            customer.plans.append(plan_id)
            for pf in plan.features:
                scopes: List[Optional[str]] = list(customer.entities) if pf.per_entity else [None]
                for entity_id in scopes:
                    customer.entries.append(self._entry(customer, plan_id, pf, anchor, entity_id))
        return self

    def grant(
        self,
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
    ) -> SandboxEngine:
        """Give a customer (or one entity) `amount` of a feature outside any plan, e.g. a top-up.

        `interval` makes it reset like a plan's allowance (default `one_off`); `expires_at` (epoch ms)
        ends it; `unlimited`, `overage_allowed` and `max_purchase` work as in a plan.

            engine.grant("cus_free", "messages", 10)
        """
        with self._lock:
            customer = self._customer(customer_id)
            self._feature(feature_id)
            if entity_id is not None:
                self._entity(customer, entity_id)
            pf = PlanFeature(
                feature_id,
                prepaid=dec(amount),
                unlimited=unlimited,
                interval=interval,
                overage_allowed=overage_allowed,
                max_purchase=None if max_purchase is None else dec(max_purchase),
            )
            entry = self._entry(customer, None, pf, self.clock.now_ms(), entity_id)
            entry.expires_at = expires_at
            customer.entries.append(entry)
        return self

    def track(
        self, customer_id: str, feature_id: str, amount: Number = 1, *, entity_id: Optional[str] = None
    ) -> SandboxEngine:
        """Record usage whatever the limits (as a usage event would); a negative amount gives usage back.

        Without `entity_id` the usage is the customer's own: a feature the customer has only per entity
        (seat) raises ValueError, as a `send_event` check without `entity_id` is refused.

            engine.track("cus_pro", "messages", 5)
        """
        with self._lock:
            customer = self._customer(customer_id)
            feature = self._feature(feature_id)
            if entity_id is not None:
                self._entity(customer, entity_id)
            source = self._source(customer, feature, entity_id)
            if source is None:
                raise ValueError(f"customer {customer_id!r} has no balance of {feature_id!r}")
            if entity_id is None:
                shared = _shared(source)
                if shared is None:
                    raise ValueError(_per_seat_message(customer.id, source.feature.id))
                source = shared
            _deduct(source.entries, dec(amount) * source.cost, force=True)
        return self

    def balance(
        self, customer_id: str, feature_id: str, *, entity_id: Optional[str] = None
    ) -> Optional[Dict[str, Any]]:
        """The `Balance` object a check of this feature would show now (None when there is none).

        A plain dict with the API's JSON names (`granted`, `remaining`, `usage`, `breakdown`, ...); for a
        feature drawn from a credit system, the balance of that system. With `entity_id`, that entity's
        view (its own balance plus the customer's shared ones).

            engine.balance("cus_team", "messages", entity_id="seat_alice")["remaining"]  # 1
        """
        with self._lock:
            customer = self._customer(customer_id)
            if entity_id is not None:
                self._entity(customer, entity_id)
            source = self._source(customer, self._feature(feature_id), entity_id)
            if source is None or source.feature.type == "boolean":
                return None
            return _balance_json(source)

    # -- the HTTP contract --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        """Answer one HTTP request (header names in any case) as Meterly would."""
        request_id = new_request_id()
        lower = {k.lower(): v for k, v in headers.items()}
        route = path.split("?", 1)[0].rstrip("/") or "/"
        operation = ROUTES.get(route)
        with self._lock:
            recorded: Dict[str, Any] = {"body": None, "key": lower.get("idempotency-key"), "replayed": False}
            try:
                response = self._dispatch(operation, method.upper(), lower, body, request_id, recorded)
            except ProtocolError as error:
                extra = {"allow": "POST"} if error.status == 405 else None
                response = error_response(operation, error, request_id, extra)
            if response.status < 500 and self.faults.take_drop():
                response = SandboxResponse(response.status, response.headers, response.body, drop=True)
            self.history.append(
                SandboxCall(
                    None if operation is None else operation.operation_id,
                    route,
                    response.status,
                    request_id,
                    recorded["body"],
                    recorded["key"],
                    recorded["replayed"],
                    response.drop,
                )
            )
            return response

    def _dispatch(
        self,
        operation: Optional[Operation[Any]],
        method: str,
        headers: Dict[str, str],
        raw: bytes,
        request_id: str,
        recorded: Dict[str, Any],
    ) -> SandboxResponse:
        # A wrong path is diagnosed even during a simulated outage: the fault is the service's, the
        # route the caller's.
        handler = None if operation is None else self.HANDLERS.get(operation.operation_id)
        if operation is None or handler is None:
            raise ProtocolError(404, "route_not_found", "no such route: check the server URL")
        if self.faults.take_failure():
            status = self.faults.error_status
            raise ProtocolError(
                status,
                "service_unavailable" if status == 503 else "internal_error",
                "the sandbox is simulating a failure",
            )
        if method != operation.method:
            raise ProtocolError(
                405, "method_not_allowed", f"{method} is not allowed here; use {operation.method}"
            )
        key = presented_key(operation.security, headers)
        if key is None or key not in self._api_keys:
            if enveloped(operation):
                code = "unauthorized"
            else:  # Autumn's codes for a missing and a wrong secret key
                code = "no_secret_key" if key is None else "invalid_secret_key"
            hint = scheme_hint(operation.security)
            raise ProtocolError(401, code, f"missing or invalid API key; send {hint}")
        idempotency_key = headers.get("idempotency-key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise ProtocolError(
                400,
                INVALID,
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                "Idempotency-Key",
            )
        body = parse_body(raw)
        recorded["body"] = body
        now = self.clock.now_ms()
        slot = None
        if idempotency_key is not None:
            slot = (operation.operation_id, idempotency_key)
            print_ = fingerprint(body)
            self._expire_idempotency(now)
            stored = self._idempotency.get(slot)
            if stored is not None:
                if stored[0] != print_:
                    raise ProtocolError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used with a different request body",
                        "Idempotency-Key",
                    )
                recorded["replayed"] = True
                first = stored[1]
                headers_out = {**first.headers, "x-request-id": request_id, "idempotent-replayed": "true"}
                return SandboxResponse(first.status, headers_out, first.body)
        answer = handler(self, body)
        response = json_response(200, answer, request_id)
        if slot is not None:
            self._idempotency[slot] = (fingerprint(body), response, now)
            while len(self._idempotency) > IDEMPOTENCY_MAX_KEYS:
                self._idempotency.popitem(last=False)
        return response

    def _expire_idempotency(self, now: int) -> None:
        while self._idempotency:
            slot, (_, _, stored_at) = next(iter(self._idempotency.items()))
            if now - stored_at < IDEMPOTENCY_TTL_MS:
                break
            del self._idempotency[slot]

    # -- the operations ---------------------------------------------------------------------------

    def _balances_check(self, req: BalancesCheckInput) -> Dict[str, Any]:
        customer = self._customer(req.customer_id, http=True)
        feature = self._feature(req.feature_id, http=True)
        if req.entity_id is not None:
            self._entity(customer, req.entity_id, http=True)
        for key in ("name", "email"):
            value = req.properties.get(key)
            if isinstance(value, str) and value and getattr(customer, key) is None:
                setattr(customer, key, value)
        required = Decimal(1) if req.required_balance is None else req.required_balance
        source = self._source(customer, feature, req.entity_id)
        if source is not None and req.send_event and req.entity_id is None:
            # Usage without an entity_id is the customer's own: it never lands on one seat's balance.
            shared = _shared(source)
            if shared is None:
                message = _per_seat_message(customer.id, source.feature.id)
                raise ProtocolError(400, "invalid_request", message, "entity_id")
            source = shared
        balance: Optional[Dict[str, Any]] = None
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
        else:
            # An action priced by a credit system is checked in credits: `required` units cost
            # `required * cost` credits, and the answer says so (as Autumn's does).
            required = required * source.cost
            available = _available(source.entries)
            allowed = available is None or available >= required
            if allowed and req.send_event:
                _deduct(source.entries, required)
            balance = _balance_json(source)
        answer: Dict[str, Any] = {"allowed": allowed, "customer_id": customer.id, "feature_id": feature.id}
        if req.entity_id is not None:
            answer["entity_id"] = req.entity_id
        answer["required_balance"] = json_number(required)
        answer["balance"] = balance
        answer["flag"] = flag
        if balance is not None:
            answer["balances"] = {balance["feature_id"]: balance}
        if req.with_preview and not allowed:
            answer["preview"] = self._preview(
                customer, feature, "feature_flag" if source is None else "usage_limit"
            )
        return answer

    def _usage_check(self, req: UsageCheckInput) -> Dict[str, Any]:
        try:
            customer = self._customer(req.customer_id, http=True)
            feature = self._feature(req.feature_code, http=True)
        except ProtocolError as error:
            error.param = {"customer_id": "customerId", "feature_id": "featureCode"}.get(error.param or "")
            raise
        source = self._source(customer, feature, None)
        answer: Dict[str, Any] = {
            "allowed": False,
            "subscriptionStatus": "active" if customer.plans or customer.entries else "none",
            "featureCode": feature.id,
            "quantity": req.quantity,
        }
        if source is None or source.feature.type == "boolean":
            # Commet answers every check in one of its three variants: a boolean feature, or one the plan
            # lacks, in the metered one (a flag is unlimited while the customer has it).
            answer["allowed"] = source is not None
            answer.update(
                consumptionModel="metered",
                current=0,
                remaining=0,
                included=0,
                unlimited=source is not None,
                overageEnabled=False,
                overageUnitPrice=None,
            )
            if source is None:
                answer.update(
                    reason="feature_not_included", message=f"{feature.name} is not included in the plan"
                )
            return {"success": True, "data": {**answer, "object": "usage_check", "livemode": False}}
        entries = source.entries
        needed = Decimal(req.quantity) * source.cost
        available = _available(entries)
        allowed = available is None or available >= needed
        unlimited = any(e.unlimited for e in entries)
        left = sum((e.remaining + e.rollover_balance() for e in entries if not e.unlimited), ZERO)
        answer["allowed"] = allowed
        if source.feature.type == "credit_system" and source.feature.currency is not None:
            answer.update(
                consumptionModel="balance",
                unitPrice=json_number(source.cost),
                estimatedAmount=json_number(needed),
                currentBalance=json_number(left),
                blockOnExhaustion=not any(e.overage_allowed for e in entries),
                currency=source.feature.currency,
                unlimited=unlimited,
            )
            reason, message = (
                "insufficient_balance",
                f"the balance does not cover {json_number(needed)} {source.feature.currency}",
            )
        elif source.feature.type == "credit_system":
            purchased = sum((e.remaining for e in entries if e.prepaid > 0 and e.included == 0), ZERO)
            # Commet counts whole credits: a fractional cost (from an Autumn-style catalog) rounds up.
            answer.update(
                consumptionModel="credits",
                creditsPerUnit=math.ceil(source.cost),
                estimatedCredits=math.ceil(needed),
                planCredits=math.floor(left - purchased),
                purchasedCredits=math.floor(purchased),
                totalCredits=math.floor(left),
                unlimited=unlimited,
            )
            reason, message = "insufficient_credits", f"{json_number(needed)} credits are needed"
        else:
            prices = [e.price for e in entries if e.price is not None]
            answer.update(
                consumptionModel="metered",
                current=json_number(sum((e.usage for e in entries), ZERO)),
                remaining=json_number(left),
                included=json_number(sum((e.granted for e in entries if not e.unlimited), ZERO)),
                unlimited=unlimited,
                overageEnabled=any(e.overage_allowed for e in entries),
                overageUnitPrice=None,
            )
            if prices:
                answer.update(overageUnitPrice=json_number(prices[0].unit_price()), currency="usd")
            reason, message = "included_limit_reached", f"the included {feature.name} are used up"
        if not allowed:
            answer.update(reason=reason, message=message)
        return {"success": True, "data": {**answer, "object": "usage_check", "livemode": False}}

    def _usage_track(self, req: UsageTrackInput) -> Dict[str, Any]:
        """Record a usage event. It deducts as a balances.check with `send_event` does: all of it when
        the balance covers it, else nothing (credits and balances then answer `consumption.blocked`)."""
        try:
            customer = self._customer(req.customer_id, http=True)
            feature = self._feature(req.feature_code, http=True)
        except ProtocolError as error:
            error.param = {"customer_id": "customerId", "feature_id": "featureCode"}.get(error.param or "")
            raise
        source = self._source(customer, feature, None)
        if source is not None:
            shared = _shared(source)  # an event is the customer's own: it never lands on one seat
            if shared is None:
                message = (
                    f"customer {customer.id!r} has {source.feature.id!r} per entity (seat) only: "
                    "a usage event records the customer's own usage"
                )
                raise ProtocolError(400, INVALID, message, "featureCode")
            source = shared
        now = _iso_time(self.clock.now_ms())
        event: Dict[str, Any] = {
            "id": f"evt_sbx_{next(self._ids):06d}",
            "featureCode": feature.id,
            "value": json_number(req.value),
            "customerId": customer.id,
            "eventId": req.event_id,
            "ts": req.timestamp or now,
            "createdAt": now,
            "properties": req.properties,
        }
        if source is not None and source.feature.type != "boolean":
            needed = req.value * source.cost
            available = _available(source.entries)
            allowed = available is None or available >= needed
            if allowed:
                _deduct(source.entries, needed)
            if source.feature.type == "credit_system":
                limited = [e for e in source.entries if not e.unlimited]
                left = sum((e.remaining + e.rollover_balance() for e in limited), ZERO)
                event["consumption"] = {
                    "model": "credits" if source.feature.currency is None else "balance",
                    "deducted": json_number(needed if allowed else ZERO),
                    "remaining": json_number(left),
                    "blocked": not allowed,
                }
        return {"success": True, "data": {**event, "object": "usage_event", "livemode": False}}

    HANDLERS: ClassVar[Dict[str, Callable[[SandboxEngine, Dict[str, Any]], Dict[str, Any]]]] = {
        "balancesCheck": lambda engine, body: engine._balances_check(parse_balances_check(body)),
        "usageCheck": lambda engine, body: engine._usage_check(parse_usage_check(body)),
        "usageTrack": lambda engine, body: engine._usage_track(parse_usage_track(body)),
    }
    """How the sandbox answers each operation of the registry, by operation id; any other is a 404."""

    def _preview(self, customer: Customer, feature: Feature, scenario: str) -> Dict[str, Any]:
        products = [
            self._product_json(plan)
            for plan in self.plans.values()
            if plan.id not in customer.plans and self._plan_gives(plan, feature)
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

    def _product_json(self, plan: Plan) -> Dict[str, Any]:
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
            "created_at": self.created_at_ms,
            "items": [self._item_json(pf) for pf in plan.features],
            "free_trial": None,
            "base_variant_id": None,
        }

    def _item_json(self, pf: PlanFeature) -> Dict[str, Any]:
        """A plan feature as an Autumn product item."""
        kind = self._feature(pf.feature_id).type
        boolean = kind == "boolean"
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

    def _plan_gives(self, plan: Plan, feature: Feature) -> bool:
        for pf in plan.features:
            if pf.feature_id == feature.id:
                return True
            pool = self.features.get(pf.feature_id)
            if pool is not None and feature.id in pool.credit_schema:
                return True
        return False

    # -- lookups ----------------------------------------------------------------------------------

    def _customer(self, customer_id: str, *, http: bool = False) -> Customer:
        customer = self.customers.get(customer_id)
        if customer is None:
            if http:
                raise ProtocolError(404, "customer_not_found", f"no customer {customer_id!r}", "customer_id")
            raise KeyError(f"no customer {customer_id!r}")
        return customer

    def _feature(self, feature_id: str, *, http: bool = False) -> Feature:
        feature = self.features.get(feature_id)
        if feature is None:
            if http:
                raise ProtocolError(404, "feature_not_found", f"no feature {feature_id!r}", "feature_id")
            raise KeyError(f"no feature {feature_id!r}")
        return feature

    def _entity(self, customer: Customer, entity_id: str, *, http: bool = False) -> Entity:
        entity = customer.entities.get(entity_id)
        if entity is None:
            message = f"customer {customer.id!r} has no entity {entity_id!r}"
            if http:
                raise ProtocolError(404, "entity_not_found", message, "entity_id")
            raise KeyError(message)
        return entity

    def _source(self, customer: Customer, feature: Feature, entity_id: Optional[str]) -> Optional[_Source]:
        """The balance a check of `feature` draws on: the feature's own, else a credit system covering it."""
        direct = self._entries(customer, feature.id, entity_id)
        if direct:
            return _Source(feature, Decimal(1), direct)
        for pool in self.features.values():
            if feature.id in pool.credit_schema:
                entries = self._entries(customer, pool.id, entity_id)
                if entries:
                    return _Source(pool, pool.credit_schema[feature.id], entries)
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
        self,
        customer: Customer,
        plan_id: Optional[str],
        pf: PlanFeature,
        anchor_ms: int,
        entity_id: Optional[str],
    ) -> Entry:
        boolean = self._feature(pf.feature_id).type == "boolean"
        return Entry(
            id=f"cus_ent_{next(self._ids):06d}",
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


# -- balance arithmetic (pure functions of entries) -------------------------------------------------


def _iso_time(ms: int) -> str:
    """A sandbox clock reading as ISO 8601 in UTC, to the millisecond (`2026-01-01T00:00:00.000Z`)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shared(source: _Source) -> Optional[_Source]:
    """The customer-level part of a source (no entity's entries); None when it is all per seat."""
    shared = [e for e in source.entries if e.entity_id is None]
    if len(shared) == len(source.entries):
        return source
    return _Source(source.feature, source.cost, shared) if shared else None


def _per_seat_message(customer_id: str, feature_id: str) -> str:
    return (
        f"customer {customer_id!r} has {feature_id!r} per entity (seat) only: "
        "pass entity_id to record usage against one of them"
    )


def _order(entries: List[Entry]) -> List[Entry]:
    """Deduction order: entries that reset soonest first (use it or lose it), then by expiry, then age."""
    inf = float("inf")
    return sorted(
        entries,
        key=lambda e: (
            e.resets_at if e.resets_at is not None else inf,
            e.expires_at if e.expires_at is not None else inf,
        ),
    )


def _available(entries: List[Entry]) -> Optional[Decimal]:
    """What may still be used: remaining plus rollovers plus overage room; None when there is no limit."""
    if any(e.unlimited for e in entries):
        return None
    total = ZERO
    for entry in entries:
        total += entry.remaining + entry.rollover_balance()
        room = entry.overage_room()
        if room is None:
            return None
        total += room
    return total


def _deduct(entries: List[Entry], amount: Decimal, *, force: bool = False) -> None:
    """Record `amount` of usage: rollovers first (soonest to expire), then entries, then overage.
    A negative amount gives usage back. With `force`, usage beyond every limit is recorded anyway."""
    ordered = _order(entries)
    if amount < 0:
        refund = -amount
        for entry in reversed(ordered):
            back = min(entry.usage, refund)
            entry.usage -= back
            refund -= back
        return
    unlimited = next((e for e in ordered if e.unlimited), None)
    if unlimited is not None:
        unlimited.usage += amount
        return
    left = amount
    rollovers = sorted(
        (r for e in ordered for r in e.rollovers),
        key=lambda r: r.expires_at if r.expires_at is not None else 2**63,
    )
    for rollover in rollovers:
        take = min(rollover.balance, left)
        rollover.balance -= take
        left -= take
    for entry in ordered:
        take = min(entry.remaining, left)
        entry.usage += take
        left -= take
    for entry in ordered:
        room = entry.overage_room()
        take = left if room is None else min(room, left)
        entry.usage += take
        left -= take
    if left > 0 and force and ordered:
        ordered[0].usage += left


def _balance_json(source: _Source) -> Dict[str, Any]:
    """The `Balance` object of a source's entries."""
    entries = source.entries
    limited = [e for e in entries if not e.unlimited]
    overage = [e for e in entries if e.overage_allowed]
    resets = [e.resets_at for e in entries if e.resets_at is not None]
    max_purchase: Optional[Decimal] = None
    if overage and all(e.max_purchase is not None for e in overage):
        max_purchase = sum((e.max_purchase for e in overage if e.max_purchase is not None), ZERO)
    rollovers = [r for e in entries for r in e.rollovers]
    result: Dict[str, Any] = {
        "feature_id": source.feature.id,
        "granted": json_number(sum((e.granted for e in limited), ZERO)),
        "remaining": json_number(sum((e.remaining + e.rollover_balance() for e in limited), ZERO)),
        "usage": json_number(sum((e.usage for e in entries), ZERO)),
        "unlimited": len(limited) < len(entries),
        "overage_allowed": bool(overage),
        "max_purchase": None if max_purchase is None else json_number(max_purchase),
        "next_reset_at": min(resets) if resets else None,
        "breakdown": [e.breakdown_json() for e in entries],
    }
    if rollovers:
        result["rollovers"] = [
            {"balance": json_number(r.balance), "expires_at": r.expires_at, "granted": json_number(r.granted)}
            for r in rollovers
        ]
    return result


__all__ = ["DEFAULT_API_KEY", "PriceRule", "SandboxCall", "SandboxEngine", "Seed"]
