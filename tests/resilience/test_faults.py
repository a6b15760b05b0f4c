"""Fault injection over real sockets: whatever the network does, a Commet `usage.track` (a write its
service deduplicates by Idempotency-Key, so the SDK retries it) returns a real answer or raises a
`MeterlyError`, every attempt of a call carries the same Idempotency-Key, and a backend that dedupes by
that key never counts an event twice (sync and async). Autumn's writes, which are not deduplicated and
so never resent once they may have arrived, are covered by tests/integrity/test_write_outcomes.py."""

from __future__ import annotations

import asyncio
import random
import ssl
from typing import Any

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors, models
from meterly.utils import BackoffStrategy, RetryConfig
from tests.conftest import API_KEY

from .faultserver import PROCESSING_FAULTS, Fault, FaultServer, fault_server, script

# One verifying TLS context for every test client: building one per client costs ~0.1 s.
TLS = ssl.create_default_context()
TIMEOUT_MS = 150
RETRIES = RetryConfig(backoff=BackoffStrategy(initial_interval=5, max_interval=20, max_elapsed_time=3_000))

# test_hot_path.py has the other two: a Retry-After past the call's deadline is not waited for, and
# these tests' injected clients bound trickled headers only per read (the documented limit).
RETRIED_FAULTS = [
    fault
    for fault in Fault
    if fault not in (Fault.OK, Fault.NOT_JSON, Fault.RETRY_LATER_503, Fault.SLOW_HEADERS)
]


def call_all(
    mode: str, server: FaultServer, customers: list[str], concurrency: int = 8, retries: RetryConfig = RETRIES
) -> dict[str, Any]:
    """usage.track once per customer; maps each to its result or MeterlyError."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "server_url": server.url,
        "timeout_ms": TIMEOUT_MS,
        "retry_config": retries,
    }
    outcomes: dict[str, Any] = {}
    if mode == "sync":
        with Meterly(client=httpx.Client(verify=TLS), **options) as sdk:
            for customer in customers:
                try:
                    outcomes[customer] = sdk.usage.track(customer_id=customer, feature_code="messages")
                except errors.MeterlyError as exc:
                    outcomes[customer] = exc
        return outcomes

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(verify=TLS) as http, AsyncMeterly(client=http, **options) as sdk:

            async def one(customer: str) -> None:
                async with gate:
                    try:
                        outcomes[customer] = await sdk.usage.track(
                            customer_id=customer, feature_code="messages"
                        )
                    except errors.MeterlyError as exc:
                        outcomes[customer] = exc

            await asyncio.gather(*(one(c) for c in customers))

    asyncio.run(run())
    return outcomes


def assert_no_event_lost_or_doubled(server: FaultServer, outcomes: dict[str, Any]) -> None:
    """The invariants of the issue, for every call that was made against `server`."""
    attempts = server.attempts_by_customer()
    keys_by_customer = {c: {r.headers["idempotency-key"] for r in reqs} for c, reqs in attempts.items()}
    for customer, outcome in outcomes.items():
        assert isinstance(outcome, (models.UsageEvent, errors.MeterlyError)), (customer, outcome)
        assert len(keys_by_customer.get(customer, set())) <= 1, f"{customer}: attempts used different keys"
        assert server.ledger.events[customer] <= 1, f"{customer}: counted twice"
        if isinstance(outcome, models.UsageEvent):
            assert getattr(outcome, "is_fallback", False) is False
            assert outcome.customer_id == customer
            assert server.ledger.events[customer] == 1, f"{customer}: answered but never counted"
    all_keys = [key for keys in keys_by_customer.values() for key in keys]
    assert len(all_keys) == len(set(all_keys)), "two calls shared an Idempotency-Key"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", RETRIED_FAULTS, ids=lambda f: f.value)
def test_a_fault_before_success_is_retried_with_the_same_key_and_counted_once(
    mode: str, fault: Fault
) -> None:
    with fault_server(script(fault, fault), stall_seconds=2, trickle_seconds=0.02) as server:
        outcomes = call_all(mode, server, ["cus_1"])
    assert isinstance(outcomes["cus_1"], models.UsageEvent), outcomes["cus_1"]
    assert_no_event_lost_or_doubled(server, outcomes)
    served = [f for f, _ in server.received]
    assert served[-1] is Fault.OK
    assert server.faults[fault] == 2  # both faults were served, then the third attempt succeeded
    assert len(served) == (1 if fault is Fault.DROP_BEFORE_READ else 3)
    if fault in PROCESSING_FAULTS:
        assert server.ledger.events["cus_1"] == 1  # processed twice, deduped by the key


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_200_that_is_not_json_raises_response_validation_error_without_a_retry(mode: str) -> None:
    with fault_server(script(Fault.NOT_JSON)) as server:
        outcomes = call_all(mode, server, ["cus_1"])
    error = outcomes["cus_1"]
    assert isinstance(error, errors.ResponseValidationError)
    assert error.body == "<html>OK</html>"
    assert len(server.received) == 1
    assert_no_event_lost_or_doubled(server, outcomes)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_random_storm_of_faults_never_loses_or_doubles_an_event(mode: str) -> None:
    rng = random.Random(20240611 if mode == "sync" else 1789)
    faults = [f for f in Fault if f is not Fault.OK]
    weights = [4 if f in (Fault.STALL, Fault.SLOW_BODY, Fault.SLOW_HEADERS) else 10 for f in faults]

    def plan() -> Fault:
        return Fault.OK if rng.random() < 0.55 else rng.choices(faults, weights)[0]

    customers = [f"cus_{mode}_{i}" for i in range(80)]
    with fault_server(plan, stall_seconds=2, trickle_seconds=0.02) as server:
        outcomes = call_all(mode, server, customers)
    assert set(outcomes) == set(customers)
    assert_no_event_lost_or_doubled(server, outcomes)
    answered = [c for c, o in outcomes.items() if isinstance(o, models.UsageEvent)]
    assert len(answered) >= len(customers) // 2
    assert sum(server.faults[f] for f in faults) >= 10  # the storm really happened
    retried = [c for c, reqs in server.attempts_by_customer().items() if len(reqs) > 1]
    assert retried, "no call needed a retry"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_5xx_storm_ends_in_the_last_server_error(mode: str) -> None:
    short = RetryConfig(backoff=BackoffStrategy(initial_interval=5, max_interval=20, max_elapsed_time=1_000))
    with fault_server(lambda: Fault.ERROR_500) as server:
        outcomes = call_all(mode, server, ["cus_1"], retries=short)
    assert isinstance(outcomes["cus_1"], errors.InternalServerError)
    assert len(server.received) > 2
    assert_no_event_lost_or_doubled(server, outcomes)
