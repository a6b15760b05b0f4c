"""FailOpenPolicy: allow or deny by default and per feature, and a circuit breaker per operation per
client that answers without I/O while open, lets one probe through after its cooldown, and logs
once per state change (sync and async, on a fake clock)."""

from __future__ import annotations

import logging
import threading
from typing import Callable

import httpx
import pytest

import meterly
from meterly import FailOpenPolicy, Meterly, errors, models
from meterly._fail_open import Circuit
from tests.conftest import API_KEY, FakeClock, Harness, json_response, ok_any, sequence

Make = Callable[..., Harness]

DOWN = json_response(503, {"message": "down"})


def outage(request: httpx.Request) -> httpx.Response:
    return json_response(503, {"message": "down"})


def meterly_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "meterly" and r.levelno == level]


def raw_check(h: Harness) -> object:
    """`balances.with_raw_response.check` on the harness's client, sync or async."""
    call = h.client.balances.with_raw_response.check(customer_id="c", feature_id="f")
    return call if h.loop is None else h.loop.run_until_complete(call)  # type: ignore[arg-type]


def test_fail_open_policy_is_exported_from_the_package() -> None:
    assert meterly.FailOpenPolicy is FailOpenPolicy
    assert "FailOpenPolicy" in meterly.__all__


def test_a_deny_policy_answers_allowed_false_marked_as_fallback(make: Make) -> None:
    h = make(outage, fail_open=FailOpenPolicy(default="deny"), retry_config=None)
    res = h.check(feature_id="messages")
    assert isinstance(res, models.CheckResponse)
    assert (res.allowed, res.is_fallback, res.fallback_reason) == (False, True, "server_error")


def test_per_feature_rules_override_the_default_for_balances_check(make: Make) -> None:
    policy = FailOpenPolicy(default="allow", features={"gpu_minutes": "deny"})
    h = make(outage, fail_open=policy, retry_config=None)
    assert h.check(feature_id="gpu_minutes").allowed is False
    assert h.check(feature_id="messages").allowed is True


def test_per_feature_rules_are_keyed_by_feature_code_for_usage_check(make: Make) -> None:
    policy = FailOpenPolicy(default="deny", features={"api_calls": "allow"})
    h = make(outage, fail_open=policy, retry_config=None)
    allowed = h.usage(feature_code="api_calls", quantity=2)
    denied = h.usage(feature_code="exports")
    assert (allowed.allowed, allowed.is_fallback, allowed.quantity) == (True, True, 2)
    assert (denied.allowed, denied.is_fallback, denied.feature_code) == (False, True, "exports")


def test_fail_open_true_allows_by_default(make: Make) -> None:
    h = make(outage, fail_open=True, retry_config=None)
    res = h.check()
    assert (res.allowed, res.is_fallback) == (True, True)


def test_the_circuit_opens_after_n_consecutive_failures_and_then_does_no_io(make: Make) -> None:
    h = make(outage, fail_open=FailOpenPolicy(failure_threshold=3), retry_config=None)
    reasons = [h.check().fallback_reason for _ in range(6)]
    assert reasons == ["server_error"] * 3 + ["circuit_open"] * 3
    assert len(h.requests) == 3


def test_after_the_cooldown_one_probe_goes_through_and_a_success_closes_the_circuit(
    make: Make, clock: FakeClock
) -> None:
    h = make(
        sequence(
            DOWN, DOWN, json_response(200, {"allowed": True, "customer_id": "cus_123", "balance": None})
        ),
        fail_open=FailOpenPolicy(failure_threshold=2, cooldown_ms=10_000),
        retry_config=None,
    )
    h.check()
    h.check()
    assert h.check().fallback_reason == "circuit_open"
    clock.now += 9.9
    assert h.check().fallback_reason == "circuit_open"
    assert len(h.requests) == 2
    clock.now += 0.2
    probe = h.check()
    assert (probe.is_fallback, len(h.requests)) == (False, 3)
    assert h.check().is_fallback is False
    assert len(h.requests) == 4  # closed again: every call goes to the service


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(make: Make, clock: FakeClock) -> None:
    h = make(outage, fail_open=FailOpenPolicy(failure_threshold=1, cooldown_ms=1_000), retry_config=None)
    assert h.check().fallback_reason == "server_error"
    clock.now += 1.5
    assert h.check().fallback_reason == "server_error"  # the probe, answered after it failed
    assert len(h.requests) == 2
    clock.now += 0.5
    assert h.check().fallback_reason == "circuit_open"
    assert len(h.requests) == 2


def test_one_warning_per_state_change_not_per_call(
    make: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [DOWN] * 4 + [json_response(200, {"allowed": True, "customer_id": "cus_123", "balance": None})]
    h = make(
        sequence(*answers),
        fail_open=FailOpenPolicy(failure_threshold=3, cooldown_ms=1_000),
        retry_config=None,
    )
    with caplog.at_level(logging.INFO, logger="meterly"):
        for _ in range(10):
            h.check()  # failing (1 warning), open (1 warning), then 7 answers without I/O and no log
        clock.now += 2
        h.check()  # a failed probe: open again (1 warning)
        for _ in range(5):
            h.check()
        clock.now += 2
        h.check()  # a successful probe: recovered (1 info)
        h.check()
    warnings = [r.getMessage() for r in meterly_records(caplog, logging.WARNING)]
    assert len(warnings) == 3
    assert "fail_open answers allowed=True" in warnings[0]
    assert "circuit open after 3 consecutive failures" in warnings[1]
    assert "circuit open after 4 consecutive failures" in warnings[2]
    assert all("balancesCheck" in w and "server_error" in w for w in warnings)
    (info,) = meterly_records(caplog, logging.INFO)
    assert "answers again" in info.getMessage()
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


def test_a_flapping_service_gets_at_most_one_failing_warning_per_cooldown(
    make: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ok = json_response(200, {"allowed": True, "customer_id": "cus_123", "balance": None})
    h = make(
        sequence(*[DOWN, ok] * 20, DOWN), fail_open=FailOpenPolicy(cooldown_ms=10_000), retry_config=None
    )
    with caplog.at_level(logging.INFO, logger="meterly"):
        for _ in range(20):  # 20 failures, each followed by a success, within one cooldown
            h.check()
            h.check()
            clock.now += 0.1
        clock.now += 10
        h.check()  # a failure after the cooldown warns again
    assert len(meterly_records(caplog, logging.WARNING)) == 2
    assert len(meterly_records(caplog, logging.INFO)) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 429])
def test_client_errors_raise_and_reset_the_failure_count(make: Make, status: int) -> None:
    h = make(
        sequence(DOWN, DOWN, json_response(status, {"message": "no"}), DOWN, DOWN, DOWN),
        fail_open=FailOpenPolicy(failure_threshold=3),
        retry_config=None,
    )
    assert h.check().is_fallback
    assert h.check().is_fallback
    with pytest.raises(errors.APIError) as caught:
        h.check()
    assert caught.value.status_code == status
    assert [h.check().fallback_reason for _ in range(3)] == ["server_error", "server_error", "server_error"]
    assert h.check().fallback_reason == "circuit_open"


def test_json_in_the_wrong_shape_is_never_masked_by_the_policy(make: Make) -> None:
    h = make(sequence(json_response(200, [1, 2])), fail_open=FailOpenPolicy(default="deny"))
    with pytest.raises(errors.ResponseValidationError):
        h.check()


def test_a_2xx_that_is_not_json_is_answered_by_the_policy_and_counts_toward_the_circuit(make: Make) -> None:
    portal = httpx.Response(200, content=b"not json", headers={"content-type": "text/html"})
    h = make(sequence(portal, portal), fail_open=FailOpenPolicy(default="deny", failure_threshold=2))
    first = h.check()
    assert (first.allowed, first.fallback_reason) == (False, "not_json")
    assert h.check().fallback_reason == "not_json"
    assert h.check().fallback_reason == "circuit_open"
    assert len(h.requests) == 2


def test_request_validation_errors_raise_even_while_the_circuit_is_open(make: Make) -> None:
    h = make(outage, fail_open=FailOpenPolicy(failure_threshold=1), retry_config=None)
    h.check()
    assert h.check().fallback_reason == "circuit_open"
    with pytest.raises(errors.RequestValidationError):
        h.check(customer_id="")
    assert len(h.requests) == 1


def test_raw_response_calls_bypass_an_open_circuit_and_raise(mode: str, make: Make) -> None:
    h = make(outage, fail_open=FailOpenPolicy(failure_threshold=1), retry_config=None)
    h.check()
    with pytest.raises(errors.InternalServerError):
        raw_check(h)
    assert len(h.requests) == 2


def test_each_operation_has_its_own_circuit(make: Make) -> None:
    def balances_down(request: httpx.Request) -> httpx.Response:
        return outage(request) if request.url.path.endswith("balances.check") else ok_any(request)

    h = make(balances_down, fail_open=FailOpenPolicy(failure_threshold=1), retry_config=None)
    h.check()
    assert h.check().fallback_reason == "circuit_open"
    assert h.usage().is_fallback is False


def test_each_client_has_its_own_circuit(make: Make) -> None:
    down = make(outage, fail_open=FailOpenPolicy(failure_threshold=1), retry_config=None)
    healthy = make(ok_any, fail_open=FailOpenPolicy(failure_threshold=1), retry_config=None)
    down.check()
    assert down.check().fallback_reason == "circuit_open"
    assert healthy.check().is_fallback is False


def test_a_threshold_of_none_never_opens_the_circuit(make: Make) -> None:
    h = make(outage, fail_open=FailOpenPolicy(failure_threshold=None), retry_config=None)
    assert {h.check().fallback_reason for _ in range(20)} == {"server_error"}
    assert len(h.requests) == 20


def test_fallbacks_follow_retries_and_name_the_cause(make: Make) -> None:
    h = make(sequence(httpx.ConnectError("refused")), fail_open=FailOpenPolicy(default="deny"))
    res = h.check()
    assert (res.allowed, res.fallback_reason) == (False, "connection")
    assert len(h.requests) > 1


def test_only_one_probe_goes_out_while_16_threads_call_a_half_open_circuit() -> None:
    clock = FakeClock()
    release = threading.Event()
    probing = threading.Event()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) > 1:  # the probe: hold it in flight while the other threads call
            probing.set()
            release.wait(10)
        return json_response(503, {})

    sdk = Meterly(
        api_key=API_KEY,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        fail_open=FailOpenPolicy(failure_threshold=1, cooldown_ms=1_000),
        retry_config=None,
    )
    sdk._pipeline.clock = clock.monotonic
    sdk.balances.check(customer_id="c", feature_id="f")
    clock.now += 2
    results: list[models.CheckResponse] = []
    lock = threading.Lock()

    def call() -> None:
        res = sdk.balances.check(customer_id="c", feature_id="f")
        with lock:
            results.append(res)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    assert probing.wait(10)
    for t in threads:  # all but the probe answer at once, without I/O
        t.join(timeout=0.05)
    assert sum(t.is_alive() for t in threads) == 1
    release.set()
    for t in threads:
        t.join(timeout=10)
    assert len(seen) == 2
    assert sorted(r.fallback_reason or "" for r in results) == ["circuit_open"] * 15 + ["server_error"]


def test_a_probe_that_never_reports_back_expires_after_a_cooldown() -> None:
    circuit = Circuit("balancesCheck", threshold=1, cooldown=10.0)
    circuit.failed(0.0, "timeout", errors.APITimeoutError("t"), "allowed=True")
    assert circuit.state == "open"
    assert circuit.admit(10.0) is True  # the probe; suppose its task is cancelled and never reports
    assert circuit.admit(15.0) is False
    assert circuit.admit(20.5) is True  # a new probe


@pytest.mark.parametrize(
    "kwargs",
    [
        {"default": "maybe"},
        {"features": {"gpu": "block"}},
        {"features": ["gpu"]},
        {"failure_threshold": 0},
        {"failure_threshold": True},
        {"cooldown_ms": -1},
        {"cooldown_ms": float("nan")},
    ],
)
def test_a_bad_policy_is_refused_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="FailOpenPolicy"):
        FailOpenPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_policy_keeps_its_own_copy_of_the_feature_rules() -> None:
    rules = {"gpu": "deny"}
    policy = FailOpenPolicy(features=rules)  # type: ignore[arg-type]
    rules["gpu"] = "allow"
    assert policy.allows("gpu") is False
