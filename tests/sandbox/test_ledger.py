"""The ledger's arithmetic on balance entries: what is available, and in what order usage is taken."""

from __future__ import annotations

from decimal import Decimal

from meterly.sandbox._ledger import available, deduct, left
from meterly.sandbox._state import Entry, Rollover


def entry(entry_id: str, granted: int, **kwargs: object) -> Entry:
    return Entry(entry_id, "messages", None, None, 0, included=Decimal(granted), **kwargs)  # type: ignore[arg-type]


def test_usage_takes_rollovers_first_then_the_entry_that_resets_soonest() -> None:
    monthly = entry("monthly", 10, interval="month")
    one_off = entry("one_off", 10)
    monthly.rollovers.append(Rollover(Decimal(3), Decimal(3), None))
    deduct([one_off, monthly], Decimal(5))
    assert (monthly.rollovers[0].balance, monthly.usage, one_off.usage) == (0, 2, 0)


def test_what_is_available_counts_overage_room_and_nothing_limits_an_unlimited_entry() -> None:
    capped = entry("capped", 10, overage_allowed=True, max_purchase=Decimal(5))
    assert available([capped]) == 15
    assert available([capped, entry("unlimited", 0, unlimited=True)]) is None
    assert left([capped]) == 10


def test_usage_beyond_every_limit_is_recorded_only_when_forced() -> None:
    limited = entry("limited", 2)
    deduct([limited], Decimal(5))
    assert limited.usage == 2
    deduct([limited], Decimal(5), force=True)
    assert limited.usage == 7


def test_a_negative_amount_gives_usage_back() -> None:
    used = entry("used", 10, usage=Decimal(6))
    deduct([used], Decimal(-4))
    assert used.usage == 2
