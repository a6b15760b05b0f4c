"""The ledger's arithmetic: what a set of balance entries allows, how usage is deducted from them, and the
`Balance` object they show. Pure functions of entries; the world decides which entries a check reads."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Dict, List, Optional, TypedDict, Union

from meterly.sandbox._state import ZERO, Entry, Feature, json_number


@dataclass
class Source:
    """Where a check draws from: the feature holding the balance, the cost of one unit, the entries."""

    feature: Feature
    cost: Decimal
    entries: List[Entry]


class RolloverJSON(TypedDict):
    """A balance carried over from an earlier cycle, as the API shows it."""

    balance: Union[int, float]
    expires_at: Optional[int]
    granted: Union[int, float]


class _BalanceFields(TypedDict):
    feature_id: str
    granted: Union[int, float]
    remaining: Union[int, float]
    usage: Union[int, float]
    unlimited: bool
    overage_allowed: bool
    max_purchase: Union[int, float, None]
    next_reset_at: Optional[int]
    breakdown: List[Dict[str, Any]]


class BalanceJSON(_BalanceFields, total=False):
    """The API's `Balance` object, with its JSON names; `rollovers` only when there are some."""

    rollovers: List[RolloverJSON]


def shared(source: Source) -> Optional[Source]:
    """The customer-level part of a source (no entity's entries); None when it is all per seat."""
    own = [e for e in source.entries if e.entity_id is None]
    if len(own) == len(source.entries):
        return source
    return Source(source.feature, source.cost, own) if own else None


def per_seat_message(customer_id: str, feature_id: str) -> str:
    return (
        f"customer {customer_id!r} has {feature_id!r} per entity (seat) only: "
        "pass entity_id to record usage against one of them"
    )


def _order(entries: List[Entry]) -> List[Entry]:
    """Deduction order: entries that reset soonest first (use it or lose it), then by expiry, then age."""
    if len(entries) < 2:
        return list(entries)  # nothing to order: skips computing reset dates, per write, for one entry
    inf = float("inf")
    return sorted(
        entries,
        key=lambda e: (
            e.resets_at if e.resets_at is not None else inf,
            e.expires_at if e.expires_at is not None else inf,
        ),
    )


def available(entries: List[Entry]) -> Optional[Decimal]:
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


def left(entries: List[Entry]) -> Decimal:
    """What is left of the limited entries' grants, rollovers included (overage room not counted)."""
    return sum((e.remaining + e.rollover_balance() for e in entries if not e.unlimited), ZERO)


def usage_snapshot(entries: List[Entry]) -> Dict[str, Decimal]:
    """Each entry's usage plus what it holds in rollovers, by entry id: `deductions` compares two."""
    return {e.id: e.usage - e.rollover_balance() for e in entries}


def deductions(entries: List[Entry], before: Dict[str, Decimal], feature_id: str) -> List[Dict[str, Any]]:
    """The API's `deductions`: how much each entry gave since `before` (a `usage_snapshot`)."""
    after = usage_snapshot(entries)
    return [
        {
            "balance_id": e.id,
            "feature_id": feature_id,
            "plan_id": e.plan_id,
            "reset": None
            if not e.resets
            else {"interval": e.interval, "interval_count": e.interval_count, "resets_at": e.resets_at},
            "value": json_number(after[e.id] - before.get(e.id, ZERO)),
        }
        for e in entries
        if after[e.id] != before.get(e.id, ZERO)
    ]


def deduct(entries: List[Entry], amount: Decimal, *, force: bool = False) -> None:
    """Record `amount` of usage: rollovers first (soonest to expire), then entries, then overage.
    A negative amount gives usage back, down to zero (below it with `force`). With `force`, usage beyond
    every limit is recorded anyway; `remaining` still shows no less than zero, as Autumn's does."""
    ordered = _order(entries)
    if amount < 0:
        refund = -amount
        for entry in reversed(ordered):
            back = min(entry.usage, refund)
            entry.usage -= back
            refund -= back
        if refund > 0 and force and ordered:
            # Given back past zero usage: credited above the grant (Autumn's overflow with a negative value).
            ordered[-1].usage -= refund
        return
    unlimited = next((e for e in ordered if e.unlimited), None)
    if unlimited is not None:
        unlimited.usage += amount
        return
    rest = amount
    rollovers = sorted(
        (r for e in ordered for r in e.rollovers),
        key=lambda r: r.expires_at if r.expires_at is not None else 2**63,
    )
    for rollover in rollovers:
        take = min(rollover.balance, rest)
        rollover.balance -= take
        rest -= take
    for entry in ordered:
        take = min(entry.remaining, rest)
        entry.usage += take
        rest -= take
    for entry in ordered:
        room = entry.overage_room()
        take = rest if room is None else min(room, rest)
        entry.usage += take
        rest -= take
    if rest > 0 and force and ordered:
        ordered[0].usage += rest


def balance_json(source: Source) -> BalanceJSON:
    """The `Balance` object of a source's entries."""
    entries = source.entries
    limited = [e for e in entries if not e.unlimited]
    overage = [e for e in entries if e.overage_allowed]
    resets = [e.resets_at for e in entries if e.resets_at is not None]
    max_purchase: Optional[Decimal] = None
    if overage and all(e.max_purchase is not None for e in overage):
        max_purchase = sum((e.max_purchase for e in overage if e.max_purchase is not None), ZERO)
    rollovers = [r for e in entries for r in e.rollovers]
    result: BalanceJSON = {
        "feature_id": source.feature.id,
        "granted": json_number(sum((e.granted for e in limited), ZERO)),
        "remaining": json_number(left(entries)),
        "usage": json_number(sum((e.usage for e in entries), ZERO)),
        "unlimited": len(limited) < len(entries),
        "overage_allowed": bool(overage),
        "max_purchase": None if max_purchase is None else json_number(max_purchase),
        # An unlimited balance never runs out, so it has no reset to wait for (Autumn's check-unlimited).
        "next_reset_at": min(resets) if resets and len(limited) == len(entries) else None,
        "breakdown": [e.breakdown_json() for e in entries],
    }
    if rollovers:
        result["rollovers"] = [
            {"balance": json_number(r.balance), "expires_at": r.expires_at, "granted": json_number(r.granted)}
            for r in rollovers
        ]
    return result
