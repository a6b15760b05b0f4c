"""The outbox's fixtures: a sandbox that keeps every write it answered (to prove each event counted once),
a sync client with an outbox on it, and a recording deliverer for tests that need no service."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

import pytest

from meterly import Meterly
from meterly.outbox import DELIVERED, Event, Outbox, Outcome
from meterly.sandbox import DEFAULT_API_KEY, Sandbox

from ..integrity.harness import LedgerEngine

SEED: dict[str, Any] = {
    "api_keys": [DEFAULT_API_KEY],
    "features": [{"id": "api_calls", "name": "API calls", "type": "metered"}],
    "plans": [{"id": "bulk", "features": [{"feature_id": "api_calls", "included": 100_000_000}]}],
    "customers": [{"id": "cus_1", "plans": ["bulk"]}, {"id": "cus_2", "plans": ["bulk"]}],
}
FAST: dict[str, Any] = {"retry_initial_ms": 20, "retry_max_ms": 200, "lease_ms": 2_000}
"""Backoff and lease short enough for a test to see several retries in a second."""


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(LedgerEngine.from_seed(SEED)) as served:
        yield served


def ledger(sandbox: Sandbox) -> LedgerEngine:
    engine = sandbox.engine
    assert isinstance(engine, LedgerEngine)
    return engine


def usage_of(sandbox: Sandbox, customer: str = "cus_1") -> Decimal:
    balance = sandbox.engine.balance(customer, "api_calls")
    assert balance is not None
    return Decimal(str(balance["usage"]))


def client_with_outbox(url: str, **outbox: Any) -> Meterly:
    return Meterly(api_key=DEFAULT_API_KEY, server_url=url, outbox=Outbox(**{**FAST, **outbox}))


@pytest.fixture
def durable_path(tmp_path: Path) -> str:
    return str(tmp_path / "outbox.sqlite3")


DELIVERED_OUTCOME = Outcome(DELIVERED)


class Recorder:
    """A deliverer that records what it was given and answers `outcome` for every event."""

    def __init__(self, outcome: Outcome = DELIVERED_OUTCOME) -> None:
        self.outcome = outcome
        self.batches: list[tuple[str, list[Event]]] = []

    def __call__(self, operation: str, events: Sequence[Event]) -> Sequence[Outcome]:
        self.batches.append((operation, list(events)))
        return [self.outcome] * len(events)

    @property
    def events(self) -> list[Event]:
        return [event for _, batch in self.batches for event in batch]
