"""Every answer belongs to its request (issue 19, point 1): a proxy that sends one response twice on a
kept-alive connection makes the next call read the extra copy. Through it, no engine may return a
check answer for another customer, nor report success for a usage event the sandbox never recorded."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from tests.faultproxy import Fault, FaultProxy, ProxiedRequest, mix

from .harness import ENGINES, EXPECTED_ALLOWED, escaped, ledger, run_calls, served

BY_ENGINE = ENGINES


def every_third_duplicated(request: ProxiedRequest) -> Fault:
    return Fault.DUPLICATE if request.index % 3 == 0 else Fault.OK


@pytest.mark.parametrize("engine", BY_ENGINE)
def test_a_duplicated_answer_never_answers_another_customers_check(engine: str) -> None:
    customers = ["cus_poor", "cus_rich"] * 15
    calls = [("balances.check", {"customer_id": c, "feature_id": "messages"}) for c in customers]
    with served() as sandbox, FaultProxy(sandbox.url, script=every_third_duplicated) as proxy:
        outcomes = run_calls(engine, calls, server_url=proxy.url)
    assert proxy.counts["duplicated"] > 0  # the fault was exercised
    wrong = [
        (o.call[1]["customer_id"], o.result.customer_id, o.result.allowed)
        for o in outcomes
        if o.result is not None
        and (
            o.result.customer_id != o.call[1]["customer_id"]
            or o.result.allowed is not EXPECTED_ALLOWED[o.call[1]["customer_id"]]
        )
    ]
    assert wrong == []
    # A read whose answer did not match is retried on a fresh connection: every check gets its answer.
    assert [o.error for o in outcomes] == [None] * len(calls)


def duplicate_then_never_forward() -> Any:
    """Even calls: the answer is sent twice. Odd calls: the first attempt is answered 503 by the proxy
    without reaching the sandbox (later attempts go through), so the stale copy is the only success
    such a call could see."""
    attempts: Counter[str] = Counter()

    def plan(request: ProxiedRequest) -> Fault:
        key = request.headers.get("idempotency-key", "")
        number = int(key.rsplit("-", 1)[1])
        attempts[key] += 1
        if number % 2 == 0:
            return Fault.DUPLICATE if attempts[key] == 1 else Fault.OK
        return Fault.ERROR_503_BEFORE if attempts[key] == 1 else Fault.OK

    return plan


@pytest.mark.parametrize("engine", BY_ENGINE)
def test_no_track_reports_success_for_an_event_that_was_never_recorded(engine: str) -> None:
    calls = [
        (
            "usage.track",
            {
                "customer_id": "cus_pro",
                "feature_code": "api_calls",
                "event_id": f"evt-{n}",
                "idempotency_key": f"trk-{n}",
            },
        )
        for n in range(20)
    ]
    with served() as sandbox, FaultProxy(sandbox.url, script=duplicate_then_never_forward()) as proxy:
        outcomes = run_calls(engine, calls, server_url=proxy.url)
        proxy.settle()
        recorded = ledger(sandbox).recorded()
    assert escaped(outcomes) == []
    succeeded = [o for o in outcomes if o.result is not None]
    assert [o.call[1]["event_id"] for o in succeeded if o.result.event_id != o.call[1]["event_id"]] == []
    unrecorded = [
        o.call[1]["idempotency_key"] for o in succeeded if recorded[o.call[1]["idempotency_key"]] == 0
    ]
    assert unrecorded == []
    assert max(recorded.values()) == 1  # Commet's dedup by Idempotency-Key: retried, counted once


def interleaved(request: ProxiedRequest) -> Fault:
    return Fault.DUPLICATE if request.index % 5 == 2 else Fault.OK


@pytest.mark.parametrize("engine", BY_ENGINE)
def test_concurrent_checks_through_a_duplicating_proxy_get_their_own_answers(engine: str) -> None:
    customers = list(itertools.islice(itertools.cycle(["cus_poor", "cus_rich", "cus_free", "cus_pro"]), 60))
    calls = [("balances.check", {"customer_id": c, "feature_id": "messages"}) for c in customers]
    with served() as sandbox, FaultProxy(sandbox.url, script=interleaved) as proxy:
        outcomes = run_calls(engine, calls, concurrency=4, server_url=proxy.url)
    assert escaped(outcomes) == []
    wrong = [
        o.call[1]["customer_id"]
        for o in outcomes
        if o.result is not None
        and (
            o.result.customer_id != o.call[1]["customer_id"]
            or o.result.allowed is not EXPECTED_ALLOWED[o.call[1]["customer_id"]]
        )
    ]
    assert wrong == []


@pytest.mark.parametrize("engine", BY_ENGINE)
def test_a_duplicated_answer_never_stands_in_for_an_identical_check_that_was_never_recorded(
    engine: str,
) -> None:
    # Autumn's check echoes nothing unique to its request: a second copy of one answer fits the next
    # identical check. Odd calls never reach the sandbox at their first attempt (the proxy answers 503
    # itself), so only a stale copy could make them look recorded: the connection that held one extra
    # answer must not carry another request.
    calls = [
        (
            "balances.check",
            {
                "customer_id": "cus_pro",
                "feature_id": "messages",
                "send_event": True,
                "required_balance": 1,
                "idempotency_key": f"chk-{n}",
            },
        )
        for n in range(12)
    ]
    with served() as sandbox, FaultProxy(sandbox.url, script=duplicate_then_never_forward()) as proxy:
        outcomes = run_calls(engine, calls, server_url=proxy.url)
        proxy.settle()
        recorded = ledger(sandbox).recorded()
    assert proxy.counts["duplicated"] == 6  # the fault was exercised
    assert escaped(outcomes) == []
    succeeded = [o for o in outcomes if o.result is not None and not getattr(o.result, "is_fallback", False)]
    assert [
        o.call[1]["idempotency_key"] for o in succeeded if recorded[o.call[1]["idempotency_key"]] == 0
    ] == []


@pytest.mark.parametrize("engine", BY_ENGINE)
def test_concurrent_writes_through_a_duplicating_proxy_are_never_lost_nor_misread(engine: str) -> None:
    # Eight calls in flight, a third of the answers sent twice. An extra copy must never answer
    # another request: the connection that holds one is retired before it goes back to the pool, where
    # another call could already send on it, or had been assigned to it and would read the copy as its
    # own answer after failing to write on the closed socket.
    track = {"customer_id": "cus_bulk", "feature_code": "messages"}
    check = {"customer_id": "cus_bulk", "feature_id": "messages", "send_event": True, "required_balance": 1}
    calls = [
        ("usage.track", {**track, "event_id": f"w-{n}", "idempotency_key": f"w-{n}"})
        if n % 2
        else ("balances.check", {**check, "idempotency_key": f"w-{n}"})
        for n in range(200)
    ]
    plan = mix(7, {Fault.OK: 0.67, Fault.DUPLICATE: 0.33})
    with served() as sandbox, FaultProxy(sandbox.url, script=plan) as proxy:
        outcomes = run_calls(engine, calls, concurrency=8, server_url=proxy.url)
        proxy.settle()
        recorded = ledger(sandbox).recorded()
    assert proxy.counts["duplicated"] > 30  # the fault was exercised
    assert escaped(outcomes) == []
    misread = [type(o.error).__name__ for o in outcomes if o.error is not None]
    assert misread == []  # no stale copy was read (ResponseMismatchError, ResponseValidationError)
    lost = [o.call[1]["idempotency_key"] for o in outcomes if recorded[o.call[1]["idempotency_key"]] == 0]
    assert lost == []
