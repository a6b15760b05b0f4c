"""Fixtures for the sandbox tests: a small seeded engine on a frozen clock, and SDK clients bound to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from meterly import AsyncMeterly, Meterly
from meterly._declaration import BEARER_AUTH
from meterly.sandbox import DEFAULT_API_KEY, SandboxEngine, SandboxResponse, SandboxTransport
from meterly.sandbox._routes import ROUTES
from meterly.utils import BackoffStrategy, RetryConfig

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FAST_RETRIES = RetryConfig(backoff=BackoffStrategy(initial_interval=1, max_interval=5, max_elapsed_time=150))

SEED: dict[str, Any] = {
    "clock": {"now_ms": START_MS, "frozen": True},
    "features": [
        {"id": "messages", "name": "Messages"},
        {"id": "api_calls", "name": "API calls"},
        {"id": "sso", "name": "Single sign-on", "type": "boolean"},
        {"id": "exports", "name": "Exports"},
        {"id": "chat", "name": "Chat"},
        {"id": "image", "name": "Images"},
        {
            "id": "credits",
            "name": "Credits",
            "type": "credit_system",
            "credit_schema": {"chat": 1, "image": 5},
        },
        {"id": "sms", "name": "SMS"},
        {
            "id": "wallet",
            "name": "Wallet",
            "type": "credit_system",
            "credit_schema": {"sms": 0.1},
            "currency": "eur",
        },
    ],
    "plans": [
        {"id": "basic", "name": "Basic", "features": [{"feature_id": "messages", "included": 10}]},
        {
            "id": "pro",
            "name": "Pro",
            "features": [
                {"feature_id": "messages", "included": 100, "rollover": {"max": 30, "duration": "month"}},
                {
                    "feature_id": "api_calls",
                    "included": 10,
                    "overage_allowed": True,
                    "max_purchase": 5,
                    "price": {"amount": 2, "billing_units": 100},
                },
                {"feature_id": "sso"},
                {"feature_id": "exports", "unlimited": True},
                {"feature_id": "credits", "included": 20},
            ],
        },
        {
            "id": "seats",
            "name": "Seats",
            "features": [{"feature_id": "messages", "included": 3, "per_entity": True}],
        },
        {"id": "enterprise", "name": "Enterprise", "features": [{"feature_id": "sso"}]},
    ],
    "customers": [
        {"id": "cus_basic", "plans": ["basic"]},
        {"id": "cus_pro", "plans": ["pro"]},
        {"id": "cus_team", "plans": ["seats"], "entities": ["seat_a", {"id": "seat_b", "name": "B"}]},
        {"id": "cus_wallet", "grants": [{"feature_id": "wallet", "amount": 1}]},
    ],
}


@pytest.fixture
def engine() -> SandboxEngine:
    return SandboxEngine.from_seed(SEED)


@pytest.fixture
def client(engine: SandboxEngine) -> Iterator[Meterly]:
    http = httpx.Client(transport=SandboxTransport(engine))
    with Meterly(api_key=DEFAULT_API_KEY, client=http, retry_config=FAST_RETRIES) as sdk:
        yield sdk
    http.close()


@pytest.fixture
async def aclient(engine: SandboxEngine) -> AsyncIterator[AsyncMeterly]:
    http = httpx.AsyncClient(transport=SandboxTransport(engine))
    async with AsyncMeterly(api_key=DEFAULT_API_KEY, client=http, retry_config=FAST_RETRIES) as sdk:
        yield sdk
    await http.aclose()


def post(
    engine: SandboxEngine,
    path: str,
    body: Any,
    *,
    key: str | None = DEFAULT_API_KEY,
    idempotency_key: str | None = None,
    raw: bytes | None = None,
    method: str = "POST",
) -> SandboxResponse:
    """One request straight to the engine, with the auth header the path's operation expects."""
    headers: dict[str, str] = {"content-type": "application/json"}
    if key is not None:
        op = ROUTES.get(path)
        scheme = BEARER_AUTH if op is None else op.security
        headers[scheme.header] = scheme.prefix + key
    if idempotency_key is not None:
        headers["idempotency-key"] = idempotency_key
    return engine.handle(method, path, headers, raw if raw is not None else json.dumps(body).encode())


CHECK = "/v1/balances.check"
USAGE = "/v1/usage/check"
