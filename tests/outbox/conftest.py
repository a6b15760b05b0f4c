"""The outbox's fixtures: a sandbox that keeps every write it answered and every `batch_track` item that
reached it (to prove each event counted once), a sync client with an outbox on it, and a recording
deliverer for tests that need no service."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

import pytest

from meterly import Meterly
from meterly.outbox import DELIVERED, Event, Outbox, Outcome
from meterly.sandbox import DEFAULT_API_KEY, Sandbox, SandboxResponse

from ..integrity.harness import LedgerEngine

SEED: dict[str, Any] = {
    "api_keys": [DEFAULT_API_KEY],
    "features": [
        {"id": "api_calls", "name": "API calls", "type": "metered"},
        {
            "id": "ai_credits",
            "type": "credit_system",
            "model_prices": {"openai/gpt-5": {"input": 1_000_000, "output": 1_000_000}},
        },
    ],
    "plans": [
        {
            "id": "bulk",
            "features": [
                {"feature_id": "api_calls", "included": 100_000_000},
                {"feature_id": "ai_credits", "included": 100_000_000},
            ],
        }
    ],
    "customers": [{"id": "cus_1", "plans": ["bulk"]}, {"id": "cus_2", "plans": ["bulk"]}],
}
"""Two customers with room for millions of events; `ai_credits` prices `openai/gpt-5` at one credit a
token, so its usage is the sum of the tokens `track_tokens` recorded."""
FAST: dict[str, Any] = {"retry_initial_ms": 20, "retry_max_ms": 200, "lease_ms": 2_000}
"""Backoff and lease short enough for a test to see several retries in a second."""


BATCH_TRACK = "/v1/balances.batch_track"


class OutboxEngine(LedgerEngine):
    """A `LedgerEngine` that also counts, per `idempotency_key`, the `batch_track` items that reached it
    in a batch it accepted (its `writes` keep single writes): more than one means an item was resent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_arrivals: Counter[str] = Counter()
        self._arrivals_lock = threading.Lock()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        response = super().handle(method, path, headers, body)
        if path == BATCH_TRACK and 200 <= response.status < 300:
            keys = [item.get("idempotency_key") for item in json.loads(body)]
            with self._arrivals_lock:
                self.batch_arrivals.update(key for key in keys if key is not None)
        return response


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(OutboxEngine.from_seed(SEED)) as served:
        yield served


def ledger(sandbox: Sandbox) -> OutboxEngine:
    engine = sandbox.engine
    assert isinstance(engine, OutboxEngine)
    return engine


def usage_of(sandbox: Sandbox, customer: str = "cus_1", feature: str = "api_calls") -> Decimal:
    """The usage the sandbox's own balance shows: what it counted, each deduplicated event once."""
    balance = sandbox.engine.balance(customer, feature)
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
