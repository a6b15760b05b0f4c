"""The sandbox deduplicates exactly as the real services do (issue 19, points 3 and 10), so that tests
prove the SDK's behaviour rather than the sandbox's leniency: Commet's routes honour Idempotency-Key
for 24 hours by time, however many keys came after; Autumn's check and track routes do not honour it
at all (facts in shared/UPSTREAM.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meterly.sandbox import COMMET_API_KEY, DEFAULT_API_KEY, SandboxEngine, SandboxResponse

from .harness import SEED

DAY = 24 * 3600
TRACK = "/v1/usage/events"
USAGE_CHECK = "/v1/usage/check"
CHECK = "/v1/balances.check"


@pytest.fixture
def engine() -> SandboxEngine:
    engine = SandboxEngine.from_seed(SEED)
    engine.clock.freeze()
    return engine


def post(engine: SandboxEngine, path: str, body: dict[str, Any], key: str) -> SandboxResponse:
    auth = {"authorization": f"Bearer {DEFAULT_API_KEY}"} if path == CHECK else {"x-api-key": COMMET_API_KEY}
    headers = {"content-type": "application/json", "idempotency-key": key, **auth}
    return engine.handle("POST", path, headers, json.dumps(body).encode())


def track(engine: SandboxEngine, key: str, event_id: str = "evt-1") -> SandboxResponse:
    body = {"customerId": "cus_bulk", "featureCode": "messages", "value": 1, "eventId": event_id}
    return post(engine, TRACK, body, key)


def replayed(response: SandboxResponse) -> bool:
    return response.headers.get("idempotent-replayed") == "true"


def usage(engine: SandboxEngine, customer_id: str = "cus_bulk") -> float:
    balance = engine.balance(customer_id, "messages")
    assert balance is not None
    return float(balance["usage"])


def test_a_commet_track_resent_with_its_key_is_replayed_not_recorded_again(engine: SandboxEngine) -> None:
    first, second = track(engine, "k-1"), track(engine, "k-1")
    assert (first.status, second.status) == (200, 200)
    assert (replayed(first), replayed(second)) == (False, True)
    assert json.loads(second.body)["data"]["id"] == json.loads(first.body)["data"]["id"]
    assert usage(engine) == 1


def test_a_commet_key_is_remembered_until_24_hours_have_passed(engine: SandboxEngine) -> None:
    track(engine, "k-day")
    engine.clock.advance(DAY - 1)
    assert replayed(track(engine, "k-day"))
    engine.clock.advance(2)
    again = track(engine, "k-day")
    assert (again.status, replayed(again)) == (200, False)
    assert usage(engine) == 2


def test_a_commet_key_is_remembered_however_many_keys_come_after_it(engine: SandboxEngine) -> None:
    track(engine, "k-old")
    for n in range(10_001):
        post(
            engine,
            USAGE_CHECK,
            {"customerId": "cus_bulk", "featureCode": "messages", "quantity": 1},
            f"f-{n}",
        )
    engine.clock.advance(3600)
    again = track(engine, "k-old")
    assert replayed(again)
    assert usage(engine) == 1


def send_event_check(engine: SandboxEngine, key: str, required_balance: int = 7) -> SandboxResponse:
    body = {
        "customer_id": "cus_bulk",
        "feature_id": "messages",
        "send_event": True,
        "required_balance": required_balance,
    }
    return post(engine, CHECK, body, key)


def test_an_autumn_send_event_check_resent_with_the_same_key_is_counted_twice(engine: SandboxEngine) -> None:
    first, second = send_event_check(engine, "k-autumn"), send_event_check(engine, "k-autumn")
    assert (first.status, second.status) == (200, 200)
    assert (replayed(first), replayed(second)) == (False, False)
    assert usage(engine) == 14  # what Autumn does: the header is not honoured, both are counted


def test_an_autumn_check_reusing_a_key_with_another_body_is_answered(engine: SandboxEngine) -> None:
    first, second = send_event_check(engine, "k-reused", 7), send_event_check(engine, "k-reused", 3)
    assert (first.status, second.status) == (200, 200)
    assert usage(engine) == 10
