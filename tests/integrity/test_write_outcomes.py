"""Write outcomes are stated honestly (issue 19, points 2 and 3): Autumn does not deduplicate a check
with `send_event`, so once its request may have reached the service it is never resent and the caller
learns that the outcome is unknown (`WriteOutcomeUnknownError`, or under fail-open a fallback whose
`usage_recorded` is None); a request that certainly never arrived may be retried. Commet deduplicates
`usage.track` by Idempotency-Key, so it is retried with the same key and counted once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from meterly import errors
from tests.faultproxy import LOST_AFTER_FORWARDING, Fault, FaultProxy, Plan, ProxiedRequest

from ..loopback import refused_url
from .harness import ENGINES, escaped, ledger, run_calls, served, write_outcome_unknown

LOST = [pytest.param(fault, id=fault.value) for fault in LOST_AFTER_FORWARDING]
RETRIED_429 = [
    pytest.param(fault, id=fault.value)
    for fault in (
        Fault.RATE_LIMIT_ZERO,
        Fault.RATE_LIMIT_NEGATIVE,
        Fault.RATE_LIMIT_JUNK,
        Fault.RATE_LIMIT_MS,
    )
]


def first_attempt(fault: Fault) -> Plan:
    """`fault` for the first attempt of each Idempotency-Key, OK for the later ones."""
    seen: Counter[str] = Counter()

    def plan(request: ProxiedRequest) -> Fault:
        key = request.headers.get("idempotency-key", "")
        seen[key] += 1
        return fault if seen[key] == 1 else Fault.OK

    return plan


def every_attempt(fault: Fault) -> Plan:
    return lambda request: fault


def send_event_check(key: str) -> tuple[str, dict[str, Any]]:
    return (
        "balances.check",
        {
            "customer_id": "cus_bulk",
            "feature_id": "messages",
            "send_event": True,
            "required_balance": 7,
            "idempotency_key": key,
        },
    )


@pytest.mark.parametrize("fault", LOST)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_check_that_may_have_been_recorded_is_never_resent(engine: str, fault: Fault) -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=first_attempt(fault)) as proxy:
        [outcome] = run_calls(engine, [send_event_check("chk-lost")], server_url=proxy.url)
        proxy.settle()
        recorded = ledger(sandbox).times_recorded("chk-lost")
        balance = sandbox.engine.balance("cus_bulk", "messages")
    assert recorded == 1  # the sandbox did record it: the answer alone was lost
    assert balance is not None
    assert balance["usage"] == 7
    assert len(proxy.faults_by_key()["chk-lost"]) == 1  # never resent
    error = outcome.error
    assert isinstance(error, write_outcome_unknown())
    assert isinstance(error, errors.APIConnectionError)
    assert getattr(error, "idempotency_key", None) == "chk-lost"
    assert getattr(error, "operation", None) in ("balancesCheck", "balances.check")


@pytest.mark.parametrize("fault", RETRIED_429)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_check_refused_with_429_is_retried_and_recorded_once(engine: str, fault: Fault) -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=first_attempt(fault)) as proxy:
        [outcome] = run_calls(engine, [send_event_check("chk-429")], server_url=proxy.url)
        proxy.settle()
        recorded = ledger(sandbox).times_recorded("chk-429")
    assert outcome.error is None
    assert (outcome.result.customer_id, outcome.result.allowed) == ("cus_bulk", True)
    assert proxy.faults_by_key()["chk-429"] == [fault, Fault.OK]
    assert recorded == 1
    assert outcome.seconds < 2.0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_retry_after_past_the_deadline_raises_at_once_without_recording(engine: str) -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=every_attempt(Fault.RATE_LIMIT_HUGE)) as proxy:
        [outcome] = run_calls(engine, [send_event_check("chk-huge")], server_url=proxy.url)
        proxy.settle()
        recorded = ledger(sandbox).times_recorded("chk-huge")
    assert isinstance(outcome.error, errors.RateLimitError)
    assert outcome.error.retry_after == 86400
    assert (recorded, len(proxy.faults_by_key()["chk-huge"])) == (0, 1)
    assert outcome.seconds < 1.0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_check_to_a_refused_port_is_a_connection_error_not_an_unknown_outcome(engine: str) -> None:
    [outcome] = run_calls(engine, [send_event_check("chk-refused")], server_url=refused_url())
    assert isinstance(outcome.error, errors.APIConnectionError)
    assert not isinstance(outcome.error, write_outcome_unknown())
    assert outcome.seconds < 2.0


@pytest.mark.parametrize("fault", LOST)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_fallback_for_a_check_that_may_have_been_recorded_does_not_deny_it(
    engine: str, fault: Fault
) -> None:
    with served() as sandbox, FaultProxy(sandbox.url, script=every_attempt(fault)) as proxy:
        [outcome] = run_calls(engine, [send_event_check("chk-fo")], server_url=proxy.url, fail_open=True)
        proxy.settle()
        recorded = ledger(sandbox).times_recorded("chk-fo")
        balance = sandbox.engine.balance("cus_bulk", "messages")
    assert recorded == 1
    assert balance is not None
    assert balance["usage"] == 7
    assert len(proxy.faults_by_key()["chk-fo"]) == 1  # never resent, fail-open or not
    assert outcome.error is None
    assert outcome.result.is_fallback is True
    assert getattr(outcome.result, "usage_recorded", "absent") is None


@pytest.mark.parametrize("engine", ENGINES)
def test_a_fallback_for_a_check_that_never_arrived_says_nothing_was_recorded(engine: str) -> None:
    [outcome] = run_calls(
        engine, [send_event_check("chk-fo-refused")], server_url=refused_url(), fail_open=True
    )
    assert outcome.error is None
    assert outcome.result.is_fallback is True
    assert getattr(outcome.result, "usage_recorded", "absent") is False


@pytest.mark.parametrize("fault", LOST)
@pytest.mark.parametrize("engine", ENGINES)
def test_commet_track_is_retried_with_the_same_key_and_counted_once(engine: str, fault: Fault) -> None:
    call = (
        "usage.track",
        {
            "customer_id": "cus_pro",
            "feature_code": "api_calls",
            "event_id": "evt-1",
            "idempotency_key": "trk-1",
        },
    )
    with served() as sandbox, FaultProxy(sandbox.url, script=first_attempt(fault)) as proxy:
        [outcome] = run_calls(engine, [call], server_url=proxy.url)
        proxy.settle()
        engine_ledger = ledger(sandbox)
        recorded = engine_ledger.times_recorded("trk-1")
        answered = [w for w in engine_ledger.writes if w.idempotency_key == "trk-1"]
    assert escaped([outcome]) == []
    assert outcome.error is None
    assert outcome.result.event_id == "evt-1"
    assert proxy.faults_by_key()["trk-1"] == [fault, Fault.OK]  # both attempts carried the same key
    assert recorded == 1
    assert [w.replayed for w in answered] == [False, True]
