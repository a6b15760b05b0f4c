"""The sandbox's data: features, plans, customers and the balance entries plans give them; and a plan
feature read from its seed dict (`plan_feature`).

Amounts are `Decimal`, so money and credits add up exactly; times are epoch milliseconds.
"""

from __future__ import annotations

import calendar
import datetime
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Literal, Mapping, Optional, Union

Number = Union[int, float, str, Decimal]
FeatureType = Literal["boolean", "metered", "credit_system"]

ZERO = Decimal(0)
INTERVALS = ("one_off", "minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year")
_FIXED_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_MONTHS = {"month": 1, "quarter": 3, "semi_annual": 6, "year": 12}
_MAX_RESETS_REPLAYED = 100
"""After a long jump of the clock, only this many of the last missed resets are replayed one by one."""


def dec(value: Number) -> Decimal:
    """An exact Decimal for a number given as int, float, str or Decimal (floats go through their repr)."""
    if isinstance(value, bool):
        raise TypeError("a number is expected, not a bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, float, str)):
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    else:
        raise TypeError(f"a number is expected, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("a finite number is expected")
    return result


def json_number(value: Decimal) -> Union[int, float]:
    """The JSON form of an amount: an int when whole (and exactly representable), else a float."""
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


@functools.lru_cache(maxsize=4096)
def add_interval(anchor_ms: int, interval: str, count: int, times: int) -> int:
    """`anchor_ms` moved `times` intervals of `count` x `interval` later; months keep the anchor's day.

    Cached: every event recorded on a balance asks for its next reset, and a month's takes datetime work."""
    if interval in _FIXED_SECONDS:
        return anchor_ms + _FIXED_SECONDS[interval] * 1000 * count * times
    months = _MONTHS[interval] * count * times
    start = datetime.datetime.fromtimestamp(anchor_ms / 1000, tz=datetime.timezone.utc)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    moved = start.replace(year=year, month=month, day=day)
    return round(moved.timestamp() * 1000)


def periods_elapsed(anchor_ms: int, interval: str, count: int, now_ms: int) -> int:
    """The number of whole intervals from `anchor_ms` to `now_ms`: the k with reset k <= now < reset k+1."""
    if now_ms < anchor_ms:
        return 0
    if interval in _FIXED_SECONDS:
        return (now_ms - anchor_ms) // (_FIXED_SECONDS[interval] * 1000 * count)
    start = datetime.datetime.fromtimestamp(anchor_ms / 1000, tz=datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(now_ms / 1000, tz=datetime.timezone.utc)
    k = max(0, ((end.year - start.year) * 12 + end.month - start.month) // (_MONTHS[interval] * count) - 1)
    while add_interval(anchor_ms, interval, count, k + 1) <= now_ms:
        k += 1
    return k


@dataclass
class Feature:
    """Something a plan can give: a flag (`boolean`), a counted quantity (`metered`), or a pool of
    credits or money that other features draw on at a cost per unit (`credit_system`)."""

    id: str
    name: str
    type: FeatureType = "metered"
    credit_schema: Dict[str, Decimal] = field(default_factory=dict[str, Decimal])
    """For a credit system: feature id -> credits (or money) one unit of that feature costs."""
    currency: Optional[str] = None
    """For a credit system holding money: its currency; usage.check then reports the `balance` model."""
    event_names: List[str] = field(default_factory=list[str])
    """Events (`balances.track`'s `event_name`) that record usage of this feature; one event may map to
    several features."""
    model_prices: Dict[str, Dict[str, Decimal]] = field(default_factory=dict[str, Dict[str, Decimal]])
    """For a credit system: AI model (`provider/model`) -> token kind (`input`, `output`, `cache_read`,
    `cache_write`, `audio_input`, `audio_output`, `reasoning`) -> credits per million tokens."""


TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "audio_input", "audio_output", "reasoning")
"""The kinds of token a model price may name; a request's `<kind>_tokens` is priced by its kind."""


@dataclass
class Hold:
    """Balance reserved by a check's `lock` until it is confirmed, released or expires."""

    lock_id: str
    customer_id: str
    feature_id: str
    """The feature whose balance holds it (the credit system, for a feature drawn from one)."""
    cost: Decimal
    """Credits (or units) one unit of the checked feature costs: an `override_value` is priced with it."""
    amount: Decimal
    """What is held, in the holding feature's units."""
    entries: List[Entry]
    expires_at: Optional[int]


@dataclass
class RolloverRule:
    """What is left at a reset carries over, up to `max` in total, for `length` x `duration`."""

    max: Optional[Decimal] = None
    duration: Optional[str] = None
    length: int = 1


@dataclass
class PriceRule:
    """How usage beyond the grant is priced: `amount` per `billing_units`."""

    amount: Decimal
    billing_units: Decimal = Decimal(1)
    billing_method: str = "usage_based"

    def unit_price(self) -> Decimal:
        """The price of one unit."""
        return self.amount / self.billing_units


@dataclass
class PlanFeature:
    """One feature a plan gives, and how much of it."""

    feature_id: str
    included: Decimal = ZERO
    prepaid: Decimal = ZERO
    unlimited: bool = False
    interval: str = "month"
    interval_count: int = 1
    overage_allowed: bool = False
    max_purchase: Optional[Decimal] = None
    price: Optional[PriceRule] = None
    rollover: Optional[RolloverRule] = None
    per_entity: bool = False
    """Each of the customer's entities (seats) gets its own balance instead of one shared balance."""


@dataclass
class Plan:
    """A product a customer can be on; add-ons can be bought next to a main plan."""

    id: str
    name: str
    features: List[PlanFeature] = field(default_factory=list[PlanFeature])
    add_on: bool = False

    def feature(self, feature_id: str) -> Optional[PlanFeature]:
        """What this plan gives of `feature_id`, if anything."""
        return next((pf for pf in self.features if pf.feature_id == feature_id), None)


@dataclass
class Rollover:
    """Balance carried over from an earlier cycle."""

    balance: Decimal
    granted: Decimal
    expires_at: Optional[int]


@dataclass
class Entry:
    """One source of balance of one feature for a customer (or one of its entities): a plan's grant,
    or a grant outside any plan. Shown as one `breakdown` item."""

    id: str
    feature_id: str
    plan_id: Optional[str]
    entity_id: Optional[str]
    anchor_ms: int
    included: Decimal = ZERO
    prepaid: Decimal = ZERO
    unlimited: bool = False
    interval: str = "one_off"
    interval_count: int = 1
    overage_allowed: bool = False
    max_purchase: Optional[Decimal] = None
    price: Optional[PriceRule] = None
    expires_at: Optional[int] = None
    rollover: Optional[RolloverRule] = None
    usage: Decimal = ZERO
    period: int = 1
    rollovers: List[Rollover] = field(default_factory=list[Rollover])

    @property
    def granted(self) -> Decimal:
        return self.included + self.prepaid

    @property
    def remaining(self) -> Decimal:
        """What is left of the grant this cycle, rollovers not counted; never negative."""
        return max(ZERO, self.granted - self.usage)

    @property
    def overage(self) -> Decimal:
        """Usage beyond the grant this cycle."""
        return max(ZERO, self.usage - self.granted)

    @property
    def resets(self) -> bool:
        return self.interval != "one_off"

    @property
    def resets_at(self) -> Optional[int]:
        if not self.resets:
            return None
        return add_interval(self.anchor_ms, self.interval, self.interval_count, self.period)

    def overage_room(self) -> Optional[Decimal]:
        """How much more overage this entry takes: None for no limit, 0 when overage is not allowed."""
        if not self.overage_allowed:
            return ZERO
        if self.max_purchase is None:
            return None
        return max(ZERO, self.max_purchase - self.overage)

    def rollover_balance(self) -> Decimal:
        return sum((r.balance for r in self.rollovers), ZERO)

    def active(self, now_ms: int) -> bool:
        """False once the entry has expired."""
        return self.expires_at is None or now_ms < self.expires_at

    def catch_up(self, now_ms: int) -> None:
        """Apply every reset due by `now_ms`: roll over what is left, zero usage, drop expired rollovers."""
        self.rollovers = [r for r in self.rollovers if r.expires_at is None or r.expires_at > now_ms]
        if not self.resets:
            return
        if now_ms < add_interval(self.anchor_ms, self.interval, self.interval_count, self.period):
            return  # before the next reset: nothing is due (the common case, one lookup)
        due = periods_elapsed(self.anchor_ms, self.interval, self.interval_count, now_ms) - self.period + 1
        if due <= 0:
            return
        self._reset_once()
        if due > _MAX_RESETS_REPLAYED:
            # Cycles skipped in a long jump were unused; only the last ones can still hold live rollovers.
            self.period += due - _MAX_RESETS_REPLAYED
            due = _MAX_RESETS_REPLAYED
        for _ in range(due - 1):
            self._reset_once()
        self.rollovers = [r for r in self.rollovers if r.expires_at is None or r.expires_at > now_ms]

    def _reset_once(self) -> None:
        boundary = add_interval(self.anchor_ms, self.interval, self.interval_count, self.period)
        rule = self.rollover
        if rule is not None and not self.unlimited:
            self.rollovers = [r for r in self.rollovers if r.expires_at is None or r.expires_at > boundary]
            amount = self.remaining
            if amount > 0:
                expires = (
                    None if rule.duration is None else add_interval(boundary, rule.duration, 1, rule.length)
                )
                self.rollovers.append(Rollover(balance=amount, granted=amount, expires_at=expires))
            if rule.max is not None:
                # Over the cap, the oldest rollovers give way first: the newest is kept whole (as
                # Autumn's track-rollover2 pins it: [100, 400], not [150, 350]).
                excess = self.rollover_balance() - rule.max
                for rollover in self.rollovers:
                    if excess <= 0:
                        break
                    cut = min(rollover.balance, excess)
                    rollover.balance -= cut
                    rollover.granted -= cut
                    excess -= cut
                self.rollovers = [r for r in self.rollovers if r.balance > 0]
        self.usage = ZERO
        self.period += 1

    def breakdown_json(self) -> Dict[str, Any]:
        """This entry as a `Breakdown` object."""
        price = None
        if self.price is not None:
            price = {
                "amount": json_number(self.price.amount),
                "billing_units": json_number(self.price.billing_units),
                "billing_method": self.price.billing_method,
                "max_purchase": None if self.max_purchase is None else json_number(self.max_purchase),
            }
        return {
            "id": self.id,
            "plan_id": self.plan_id,
            "included_grant": json_number(self.included),
            "prepaid_grant": json_number(self.prepaid),
            "remaining": json_number(self.remaining),
            "usage": json_number(self.usage),
            "unlimited": self.unlimited,
            "reset": {
                "interval": self.interval,
                "interval_count": self.interval_count,
                "resets_at": self.resets_at,
            },
            "price": price,
            "expires_at": self.expires_at,
        }


@dataclass
class Entity:
    """A sub-unit of a customer (a seat, a workspace) that can hold balances of its own."""

    id: str
    name: Optional[str] = None


@dataclass
class Customer:
    """A customer, the plans it is on and every balance entry it holds."""

    id: str
    name: Optional[str] = None
    email: Optional[str] = None
    plans: List[str] = field(default_factory=list[str])
    entries: List[Entry] = field(default_factory=list[Entry])
    entities: Dict[str, Entity] = field(default_factory=dict[str, Entity])


_PLAN_FEATURE_KEYS = {
    "feature_id", "included", "prepaid", "unlimited", "interval", "interval_count", "overage_allowed",
    "max_purchase", "price", "rollover", "per_entity",
}  # fmt: skip


def known(item: Mapping[str, Any], keys: set[str], where: str) -> None:
    """Refuses a seed dict holding a key outside `keys`, so typos don't pass silently."""
    unknown = sorted(set(item) - keys)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")


def checked_interval(value: Any, where: str) -> str:
    """`value` when it is one of `INTERVALS`, else a ValueError naming `where`."""
    if value not in INTERVALS:
        raise ValueError(f"{where}: interval must be one of {', '.join(INTERVALS)}, got {value!r}")
    return str(value)


def plan_feature(item: Mapping[str, Any]) -> PlanFeature:
    """A `PlanFeature` from its seed dict."""
    where = f"plan feature {item.get('feature_id')!r}"
    known(item, _PLAN_FEATURE_KEYS, where)
    if not isinstance(item.get("feature_id"), str):
        raise ValueError("a plan feature needs a feature_id")
    included = dec(item.get("included", 0))
    unlimited = bool(item.get("unlimited", False))
    default_interval = "month" if included > 0 or unlimited else "one_off"
    price: Optional[PriceRule] = None
    if item.get("price") is not None:
        p = item["price"]
        known(p, {"amount", "billing_units", "billing_method"}, where + " price")
        price = PriceRule(
            dec(p["amount"]), dec(p.get("billing_units", 1)), p.get("billing_method", "usage_based")
        )
    rollover: Optional[RolloverRule] = None
    if item.get("rollover") is not None:
        r = item["rollover"]
        known(r, {"max", "duration", "length"}, where + " rollover")
        duration = None if r.get("duration") is None else checked_interval(r["duration"], where + " rollover")
        rollover = RolloverRule(
            None if r.get("max") is None else dec(r["max"]), duration, int(r.get("length", 1))
        )
    interval_count = int(item.get("interval_count", 1))
    if interval_count < 1:
        raise ValueError(f"{where}: interval_count must be >= 1")
    return PlanFeature(
        feature_id=item["feature_id"],
        included=included,
        prepaid=dec(item.get("prepaid", 0)),
        unlimited=unlimited,
        interval=checked_interval(item.get("interval", default_interval), where),
        interval_count=interval_count,
        overage_allowed=bool(item.get("overage_allowed", False)),
        max_purchase=None if item.get("max_purchase") is None else dec(item["max_purchase"]),
        price=price,
        rollover=rollover,
        per_entity=bool(item.get("per_entity", False)),
    )
