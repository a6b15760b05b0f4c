"""Commet's routes that the SDK has no operation for, served so that Commet's own client works in full:
`GET /api/v1/feature-access/{code}` and `GET /api/v1/feature-access` (its gate for boolean and metered
features), and `PUT /api/v1/usage` (`usage.set`: a feature's usage for the period set to a value).

Each handler takes the world and the request's arguments (query, path and body merged, camelCase as
Commet spells them) and returns the `data` of Commet's envelope.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Pattern, Tuple

from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._ledger import Source, deduct, left, shared
from meterly.sandbox._state import ZERO, Customer, Entry, Feature, add_interval, json_number
from meterly.sandbox._world import Missing, World

RouteHandler = Callable[[World, Mapping[str, Any]], Dict[str, Any]]


class Route(NamedTuple):
    """A path pattern and its handler for each method."""

    name: str
    pattern: Pattern[str]
    handlers: Dict[str, RouteHandler]


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _text(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(400, INVALID, f"{key} is required and must be a non-empty string", key)
    return value


def _found(world: World, args: Mapping[str, Any], key: str, lookup: Callable[[str], Any]) -> Any:
    try:
        return lookup(_text(args, key))
    except Missing as missing:
        raise ProtocolError(404, f"{missing.kind}_not_found", missing.message, key) from None


def _period(world: World, entries: List[Entry]) -> Dict[str, str]:
    """The current billing period of a balance: from the last reset to the next one."""
    now = world.clock.now_ms()
    resetting = [e for e in entries if e.resets_at is not None]
    if not resetting:
        start = min((e.anchor_ms for e in entries), default=now)
        return {"start": _iso(start), "end": _iso(add_interval(start, "month", 1, 1))}
    entry = min(resetting, key=lambda e: e.resets_at or 0)
    start = add_interval(entry.anchor_ms, entry.interval, entry.interval_count, entry.period - 1)
    return {"start": _iso(start), "end": _iso(entry.resets_at or now)}


def _access(world: World, customer: Customer, feature: Feature) -> Dict[str, Any]:
    """One feature's access for a customer, in Commet's `FeatureAccess` variants."""
    source: Optional[Source] = world.source(customer, feature, None)
    if source is not None:
        source = shared(source)
    common = {"code": feature.id, "name": feature.name, "unitName": None}
    if feature.type == "boolean":
        has = source is not None
        return {**common, "allowed": has, "type": "boolean", "enabled": has, "object": "feature_access"}
    if source is None:
        consumption: Dict[str, Any] = {
            "model": "metered",
            "period": _period(world, []),
            "unitsUsed": 0,
            "includedUnits": 0,
            "remainingUnits": 0,
            "unlimited": False,
            "overage": {"enabled": False, "units": 0},
        }
        return {
            **common,
            "allowed": False,
            "type": "usage",
            "consumption": consumption,
            "object": "feature_access",
        }
    entries = source.entries
    unlimited = any(e.unlimited for e in entries)
    rest = left(entries)
    used = sum((e.usage for e in entries), ZERO)
    if source.feature.type == "credit_system":
        units_left = None if unlimited else math.floor(rest / source.cost)
        if source.feature.currency is None:
            consumption = {
                "model": "credits",
                "period": _period(world, entries),
                "unitsUsed": json_number(used / source.cost),
                "creditsPerUnit": json_number(source.cost),
                "creditsConsumed": json_number(used),
                "availableUnits": units_left if units_left is not None else 2**31 - 1,
            }
        else:
            consumption = {
                "model": "balance",
                "period": _period(world, entries),
                "unitsUsed": json_number(used / source.cost),
                # Commet counts money in minor units (cents).
                "spent": {"amount": int(used * 100), "currency": source.feature.currency},
                "availableUnits": units_left,
            }
        allowed = unlimited or rest >= source.cost
    else:
        overage = sum((e.overage for e in entries), ZERO)
        consumption = {
            "model": "metered",
            "period": _period(world, entries),
            "unitsUsed": json_number(used),
            "includedUnits": json_number(sum((e.granted for e in entries if not e.unlimited), ZERO)),
            "remainingUnits": None if unlimited else json_number(rest),
            "unlimited": unlimited,
            "overage": {"enabled": any(e.overage_allowed for e in entries), "units": json_number(overage)},
        }
        allowed = unlimited or rest > 0 or any(e.overage_allowed for e in entries)
    return {
        **common,
        "allowed": allowed,
        "type": "usage",
        "consumption": consumption,
        "object": "feature_access",
    }


def feature_access_get(world: World, args: Mapping[str, Any]) -> Dict[str, Any]:
    """`GET /feature-access/{code}?customerId=`: one feature's access and usage."""
    customer = _found(world, args, "customerId", world.customer)
    feature = _found(world, args, "code", world.feature)
    return _access(world, customer, feature)


def feature_access_list(world: World, args: Mapping[str, Any]) -> Dict[str, Any]:
    """`GET /feature-access?customerId=`: every feature's access and usage."""
    customer = _found(world, args, "customerId", world.customer)
    data = [{**_access(world, customer, f), "livemode": False} for f in world.features.values()]
    return {"object": "list", "data": data, "hasMore": False, "nextCursor": None}


def usage_set(world: World, args: Mapping[str, Any]) -> Dict[str, Any]:
    """`PUT /usage`: set a metered feature's usage for the current period to `value`."""
    customer = _found(world, args, "customerId", world.customer)
    feature = _found(world, args, "featureCode", world.feature)
    value = args.get("value")
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(400, INVALID, "value must be a whole number at least 0", "value")
    reason = args.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ProtocolError(400, INVALID, "reason must be a string", "reason")
    unknown = sorted(set(args) - {"customerId", "featureCode", "value", "reason"})
    if unknown:
        raise ProtocolError(
            400, INVALID, f"{unknown[0]} is not a field the sandbox emulates here", unknown[0]
        )
    source = world.source(customer, feature, None)
    if source is not None:
        source = shared(source)
    if source is None or source.feature.id != feature.id or feature.type != "metered":
        raise ProtocolError(
            400,
            INVALID,
            f"{feature.id!r} is not a metered feature of customer {customer.id!r}: usage.set sets metered"
            " usage",
            "featureCode",
        )
    previous = sum((e.usage for e in source.entries), ZERO)
    deduct(source.entries, Decimal(value) - previous, force=True)
    now = _iso(world.clock.now_ms())
    return {
        "id": world.next_id("uadj_sbx"),
        "value": value,
        "previousValue": int(previous),
        "adjustment": int(Decimal(value) - previous),
        "customerId": customer.id,
        "reason": reason,
        "ts": now,
        "createdAt": now,
        "featureCode": feature.id,
        "object": "usage_adjustment",
    }


ROUTES: Tuple[Route, ...] = (
    Route(
        "feature_access.get",
        re.compile(r"(?:/api)?/v1/feature-access/(?P<code>[^/]+)"),
        {"GET": feature_access_get},
    ),
    Route("feature_access.list", re.compile(r"(?:/api)?/v1/feature-access"), {"GET": feature_access_list}),
    Route("usage.set", re.compile(r"(?:/api)?/v1/usage"), {"PUT": usage_set}),
)


def match(path: str) -> Optional[Tuple[Route, Dict[str, str]]]:
    """The route serving `path` and its path parameters, if any."""
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found is not None:
            return route, found.groupdict()
    return None
