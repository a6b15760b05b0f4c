"""balances.batch_track: a JSON array of events, 202 `{"success": true}`, items deduplicated by their
`idempotency_key` for 24 hours of the sandbox clock."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from meterly.models.trackevent import TrackEvent
from meterly.sandbox import SandboxEngine
from meterly.sandbox._http import ProtocolError, parse_body
from meterly.sandbox._state import Customer, Feature
from meterly.sandbox.operations._body import Body, found, strict_parser
from meterly.sandbox.operations._tracking import entity_of, features_of, record

from ..conftest import START_MS, post

BATCH = "/v1/balances.batch_track"


def _usage(engine: SandboxEngine) -> float:
    balance = engine.balance("cus_basic", "messages")
    assert balance is not None
    return float(balance["usage"])


def test_a_batch_is_queued_with_202_and_every_event_recorded(engine: SandboxEngine) -> None:
    events = [{"customer_id": "cus_basic", "feature_id": "messages", "value": 2}] * 3
    answer = post(engine, BATCH, events)
    assert (answer.status, answer.json()) == (202, {"success": True})
    assert _usage(engine) == 6


def test_an_event_seen_in_the_last_24_hours_is_skipped(engine: SandboxEngine) -> None:
    events = [
        {"customer_id": "cus_basic", "feature_id": "messages", "idempotency_key": "e1"},
        {"customer_id": "cus_basic", "feature_id": "messages", "idempotency_key": "e2"},
    ]
    post(engine, BATCH, events)
    post(engine, BATCH, events)  # a resent batch counts once
    assert _usage(engine) == 2
    engine.clock.advance(24 * 3600)
    post(engine, BATCH, events[:1])
    assert _usage(engine) == 3


def test_the_header_idempotency_key_does_not_deduplicate_a_batch(engine: SandboxEngine) -> None:
    events = [{"customer_id": "cus_basic", "feature_id": "messages"}]
    post(engine, BATCH, events, idempotency_key="h")
    post(engine, BATCH, events, idempotency_key="h")
    assert _usage(engine) == 2


def test_a_bad_event_refuses_the_whole_batch_naming_it(engine: SandboxEngine) -> None:
    events = [
        {"customer_id": "cus_basic", "feature_id": "messages"},
        {"customer_id": "cus_nobody", "feature_id": "messages"},
    ]
    answer = post(engine, BATCH, events)
    assert answer.status == 404
    assert answer.json()["message"].startswith("[1]")
    malformed = post(engine, BATCH, [{"customer_id": "cus_basic", "feature_id": "messages", "value": "2"}])
    assert (malformed.status, malformed.json()["message"].startswith("[0] value")) == (400, True)
    assert _usage(engine) == 0


def test_a_batch_must_be_an_array_of_1_to_1000_events(engine: SandboxEngine) -> None:
    event = {"customer_id": "cus_basic", "feature_id": "messages"}
    assert post(engine, BATCH, []).status == 400
    assert post(engine, BATCH, event).status == 400
    assert post(engine, BATCH, [event] * 1001).status == 400
    assert post(engine, BATCH, [event] * 1000).status == 202


MIXED: dict[str, Any] = {
    "clock": {"now_ms": START_MS, "frozen": True},
    "features": [
        {"id": "calls", "event_names": ["hit"]},
        {"id": "api", "event_names": ["hit"]},
        {"id": "exports"},
        {"id": "chat", "event_names": ["ask"]},
        {"id": "credits", "type": "credit_system", "credit_schema": {"chat": 2}, "event_names": ["ask"]},
        {"id": "msgs"},
        {"id": "sso", "type": "boolean", "event_names": ["hit"]},
    ],
    "plans": [
        {
            "id": "mixed",
            "features": [
                {"feature_id": "calls", "included": 40},
                {"feature_id": "api", "included": 10, "overage_allowed": True, "max_purchase": 5},
                {"feature_id": "exports", "unlimited": True},
                {"feature_id": "chat", "included": 6},
                {"feature_id": "credits", "included": 30},
                {"feature_id": "msgs", "included": 20, "interval": "month", "rollover": {"max": 8}},
                {"feature_id": "sso"},
            ],
        },
        {"id": "seats", "features": [{"feature_id": "msgs", "included": 4, "per_entity": True}]},
    ],
    "customers": [
        {"id": "cus_a", "plans": ["mixed"], "grants": [{"feature_id": "calls", "amount": 2.5}]},
        {"id": "cus_b", "plans": ["mixed"]},
        {"id": "cus_t", "plans": ["seats"], "entities": ["s1", "s2"]},
    ],
}
"""Balances that run out mid-batch (capped, or overflowing), overage up to a limit, a credit system
taken over when its feature's own balance is short, rollovers, an event recording several features
(one boolean), a fractional grant, and per-seat balances."""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_id", ""),
        ("customer_id", 5),
        ("feature_id", None),
        ("entity_id", None),
        ("value", None),
        ("value", True),
        ("value", "2"),
        ("timestamp", -1),
        ("timestamp", True),
        ("timestamp", 1.5),
        ("idempotency_key", ""),
        ("idempotency_key", 5),
        ("overage_behavior", "CAP"),
        ("overage_behavior", None),
        ("properties", []),
        ("properties", None),
    ],
)
def test_a_malformed_field_refuses_the_batch_naming_it(engine: SandboxEngine, field: str, value: Any) -> None:
    good = {"customer_id": "cus_basic", "feature_id": "messages", "value": 1, "idempotency_key": "g"}
    answer = post(engine, BATCH, [good, {**good, field: value}])
    assert (answer.status, answer.json()["message"].split(" ")[:2]) == (400, ["[1]", field])
    assert _usage(engine) == 0


def test_events_past_their_own_balance_draw_on_the_credit_system_one_by_one() -> None:
    engine = SandboxEngine.from_seed(MIXED)  # cus_b: chat 6 of its own, then 30 credits at 2 a chat
    answer = post(
        engine,
        BATCH,
        [{"customer_id": "cus_b", "feature_id": "chat", "idempotency_key": f"c{i}"} for i in range(20)],
    )
    assert answer.status == 202
    chat, credits = engine.balance("cus_b", "chat"), engine.balance("cus_b", "credits")
    assert chat is not None
    assert credits is not None
    assert (chat["usage"], credits["usage"]) == (6, 28)


def test_a_batch_rounds_as_one_write_per_event_does(engine: SandboxEngine) -> None:
    start = Decimal("7.697392813465840142191154454")  # 28 digits: each sum below is rounded
    engine.track("cus_pro", "exports", start)
    post(engine, BATCH, [{"customer_id": "cus_pro", "feature_id": "exports", "value": v} for v in (9, 99, 1)])
    (entry,) = [e for e in engine.customers["cus_pro"].entries if e.feature_id == "exports"]
    assert str(entry.usage) == "116.6973928134658401421911544"  # one write of 109: ...545


def _random_item(rng: random.Random) -> dict[str, Any]:
    customer = rng.choice(["cus_a", "cus_a", "cus_b", "cus_t"])
    item: dict[str, Any] = {"customer_id": customer}
    if customer == "cus_t":
        item["feature_id"] = "msgs"
        if rng.random() < 0.97:  # without a seat: refused mid-batch, after the items before it count
            item["entity_id"] = rng.choice(["s1", "s2"])
    elif rng.random() < 0.2:
        item["event_name"] = rng.choice(["hit", "ask"])
    else:
        item["feature_id"] = rng.choice(["calls", "calls", "api", "exports", "chat", "msgs"])
    value = rng.choice([None, 1, 1, 1, 2, 3, 0, -1, 2.5, 1.0, 10**16])
    if value is not None:
        item["value"] = value
    if rng.random() < 0.3:
        item["overage_behavior"] = rng.choice(["cap", "overflow"])
    if rng.random() < 0.8:
        item["idempotency_key"] = f"k{rng.randrange(60)}"
    if rng.random() < 0.5:
        item["timestamp"] = START_MS
    if rng.random() < 0.1:
        item["properties"] = {"n": 1}
    return item


def _one_by_one(world: SandboxEngine, items: list[dict[str, Any]]) -> int:
    """A batch as the general path records it, each item in turn: the status it answers."""
    parse = strict_parser(TrackEvent)
    try:
        bodies = [parse(item) for item in parse_body(json.dumps(items).encode())]
        checked: list[tuple[Body, Customer, list[Feature]]] = []
        for body in bodies:
            customer = found(body, "customer_id", world.customer)
            checked.append((body, customer, features_of(world, body)))
            entity_of(world, customer, body)
        for body, customer, features in checked:
            key = body.optional_text("idempotency_key")
            if key is not None and not world.remember_batch_key(key):
                continue
            value = body.number("value")
            units = Decimal(1) if value is None else value
            overflow = body.get("overage_behavior") == "overflow"
            for feature in features:
                record(world, customer, feature, units, body.optional_text("entity_id"), overflow)
    except ProtocolError as error:
        return error.status
    return 202


def _ledger(engine: SandboxEngine) -> list[Any]:
    """Every entry's usage and rollovers as exact text, and the batch keys held, in order."""
    entries = [
        (
            c.id,
            e.id,
            str(e.usage),
            e.period,
            [(str(r.balance), str(r.granted), r.expires_at) for r in e.rollovers],
        )
        for c in engine.customers.values()
        for e in c.entries
    ]
    return [entries, list(engine.batch_keys.items())]


@pytest.mark.parametrize("seed", range(12))
def test_a_batch_leaves_the_ledger_the_general_path_item_by_item_does(seed: int) -> None:
    rng = random.Random(seed)
    engine, reference = SandboxEngine.from_seed(MIXED), SandboxEngine.from_seed(MIXED)
    for _ in range(25):
        # Long runs of one item shape (as the SDK's outbox sends) and mixed batches.
        template = _random_item(rng)
        items = [
            {**template, "idempotency_key": f"r{rng.randrange(10**6)}"}
            if rng.random() < 0.7
            else _random_item(rng)
            for _ in range(rng.randrange(1, 40))
        ]
        answer = post(engine, BATCH, items)
        assert answer.status == _one_by_one(reference, items), items
        assert _ledger(engine) == _ledger(reference)
        if rng.random() < 0.2:
            days = rng.choice([1, 31])
            engine.clock.advance(days * 24 * 3600)
            reference.clock.advance(days * 24 * 3600)
