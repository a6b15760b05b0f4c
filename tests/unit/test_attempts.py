"""The attempt loop (`meterly._attempts`), driven directly by a fake engine on a fake clock: no socket,
no thread, no sleep. One behaviour per test."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from meterly import errors, models
from meterly._attempts import UNSETTLED, AttemptLoop, Pause, fallback_reason
from meterly._fail_open import FailOpen, FailOpenPolicy
from meterly.usage import USAGE_TRACK
from meterly.utils.retries import BackoffStrategy, RetryConfig

from .fakes import CHECK_BODY, FakeClock, FakeEngine, build_request, loop, prepare, received

OK = received(200)
DOWN = received(503, {"message": "down"})
REFUSED = httpx.ConnectError("refused")
PORTAL = received(200, b"<html>Sign in</html>", {"content-type": "text/html"})


def run(attempts: AttemptLoop, clock: FakeClock, *script: Any, **call: Any) -> tuple[Any, FakeEngine]:
    engine = FakeEngine(clock, *script)
    return engine.drive(attempts.run(prepare(**call), build_request)), engine


def test_a_connection_error_is_retried_and_the_next_answer_returned() -> None:
    attempts, clock = loop()
    result, engine = run(attempts, clock, REFUSED, OK)
    assert isinstance(result, models.CheckResponse)
    assert result.is_fallback is False
    assert len(engine.sent) == 2
    assert len(engine.sleeps) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_retryable_status_is_retried(status: int) -> None:
    attempts, clock = loop()
    result, engine = run(attempts, clock, received(status, {}), OK)
    assert isinstance(result, models.CheckResponse)
    assert len(engine.sent) == 2


def test_a_429_waits_what_its_retry_after_asks() -> None:
    attempts, clock = loop()
    _, engine = run(attempts, clock, received(429, {}, {"retry-after": "0.3"}), OK)
    assert engine.sleeps == [pytest.approx(0.3)]


def test_a_retry_after_longer_than_the_time_left_raises_at_once_with_retry_after() -> None:
    attempts, clock = loop()
    with pytest.raises(errors.RateLimitError) as caught:
        run(attempts, clock, received(429, {}, {"retry-after": "30"}), OK)
    assert caught.value.retry_after == 30
    assert clock.now == pytest.approx(1000.01)  # one attempt, no sleep


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_4xx_is_never_retried(status: int) -> None:
    attempts, clock = loop()
    with pytest.raises(errors.APIError) as caught:
        run(attempts, clock, received(status, {"message": "no"}), OK)
    assert caught.value.status_code == status
    assert caught.value.attempts == 1


def test_no_retry_when_the_call_says_never() -> None:
    attempts, clock = loop()
    with pytest.raises(errors.APIConnectionError):
        run(attempts, clock, REFUSED, OK, retries=None)


def test_the_idempotency_key_is_identical_on_every_attempt() -> None:
    class SeeRequests:
        def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
            return request

    attempts, clock = loop(hooks=[SeeRequests()])
    _, engine = run(attempts, clock, REFUSED, DOWN, received(502, {}), OK)
    assert len(engine.sent) == 4
    assert all(isinstance(request, httpx.Request) for request in engine.sent)
    keys = {request.headers["idempotency-key"] for request in engine.sent}  # type: ignore[union-attr]
    assert len(keys) == 1


def test_a_later_attempt_is_cut_to_what_is_left_of_the_deadline() -> None:
    attempts, clock = loop()
    _, engine = run(attempts, clock, REFUSED, OK)
    started = 1000.0
    assert engine.time_left[0] is None  # the first attempt runs with its own timeout
    assert engine.time_left[1] == pytest.approx(started + 1.5 - (started + 0.01 + engine.sleeps[0]))


def test_no_wait_starts_that_would_end_past_the_deadline() -> None:
    attempts, clock = loop()
    backoff = BackoffStrategy(initial_interval=400, max_interval=400, max_elapsed_time=1_000)
    with pytest.raises(errors.InternalServerError) as caught:
        run(attempts, clock, DOWN, retries=RetryConfig(backoff=backoff))
    assert caught.value.attempts >= 2
    assert caught.value.elapsed is not None
    assert caught.value.elapsed <= 1.0
    assert clock.now - 1000.0 == pytest.approx(caught.value.elapsed)


def test_when_retries_run_out_the_last_real_error_is_raised() -> None:
    attempts, clock = loop()
    bad_gateway = received(502, {"message": "bad gateway"})
    with pytest.raises(errors.InternalServerError) as caught:
        run(attempts, clock, DOWN, REFUSED, bad_gateway, OK, retries=RetryConfig(max_retries=2))
    assert caught.value.status_code == 502
    assert caught.value.attempts == 3


def test_a_timeout_caused_by_the_deadline_cut_raises_the_error_before_it() -> None:
    attempts, clock = loop()
    with pytest.raises(errors.RateLimitError):
        run(attempts, clock, received(429, {}, {"retry-after": "1.4"}), httpx.ReadTimeout("cut"))


def test_fail_open_answers_a_5xx_after_retries() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy(failure_threshold=None)))
    result, engine = run(attempts, clock, DOWN)
    assert (result.allowed, result.is_fallback, result.fallback_reason) == (True, True, "server_error")
    assert len(engine.sent) > 1


def test_fail_open_answers_a_2xx_that_is_not_json_without_a_retry() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy()))
    result, engine = run(attempts, clock, PORTAL)
    assert (result.is_fallback, result.fallback_reason) == (True, "not_json")
    assert len(engine.sent) == 1


def test_a_2xx_that_is_not_json_raises_response_validation_error_keeping_the_body() -> None:
    attempts, clock = loop()
    with pytest.raises(errors.ResponseValidationError) as caught:
        run(attempts, clock, PORTAL)
    assert caught.value.body == "<html>Sign in</html>"


def test_fail_open_never_masks_json_in_the_wrong_shape() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy()))
    with pytest.raises(errors.ResponseValidationError):
        run(attempts, clock, received(200, {"allowed": "maybe"}))


def test_a_body_that_fits_the_model_is_the_answer_whatever_its_content_type() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy()))
    result, _ = run(attempts, clock, received(200, headers={"content-type": "text/plain"}))
    assert (result.allowed, result.is_fallback) == (True, False)


def test_json_in_the_wrong_shape_declared_as_html_is_not_the_services() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy()))
    result, _ = run(attempts, clock, received(200, {"status": "ok"}, {"content-type": "text/html"}))
    assert result.fallback_reason == "not_json"


def test_fail_open_never_answers_a_write() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy()))
    call = prepare(USAGE_TRACK, customer_id="cus_123", feature_code="api_calls", value=1)
    engine = FakeEngine(clock, received(503, {}))
    with pytest.raises(errors.InternalServerError):
        engine.drive(attempts.run(call, build_request))


def test_the_circuit_opens_at_the_threshold_and_then_answers_without_io() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy(failure_threshold=2)))
    first, _ = run(attempts, clock, DOWN, retries=None)
    assert first.fallback_reason == "server_error"
    second, _ = run(attempts, clock, DOWN, retries=None)
    assert second.fallback_reason == "server_error"
    third, idle = run(attempts, clock, DOWN, retries=None)
    assert third.fallback_reason == "circuit_open"
    assert idle.sent == []


def test_a_wait_before_a_retry_is_a_pause_the_circuit_can_cut_short() -> None:
    attempts, clock = loop(fail_open=FailOpen(FailOpenPolicy()))
    _, engine = run(attempts, clock, DOWN, OK)
    (pause,) = engine.sleeps
    assert isinstance(pause, Pause)
    assert pause.circuit is attempts.fail_open.circuit("balancesCheck")  # type: ignore[union-attr]


def test_the_fallback_reason_names_the_fault() -> None:
    response = httpx.Response(503, request=httpx.Request("POST", "https://x"))
    assert fallback_reason(errors.APITimeoutError("t")) == "timeout"
    assert fallback_reason(errors.APIConnectionError("c")) == "connection"
    assert fallback_reason(errors.InternalServerError("s", raw_response=response)) == "server_error"
    assert fallback_reason(errors.RequestValidationError("customer_id", "is required")) is None


def test_an_attempt_is_logged_with_its_key_redacted(caplog: pytest.LogCaptureFixture) -> None:
    attempts, clock = loop()
    attempts.debug_logger = logging.getLogger("tests.unit.attempts")
    with caplog.at_level(logging.DEBUG, logger="tests.unit.attempts"):
        run(attempts, clock, OK)
    (record,) = caplog.records
    assert "attempt=1 status=200" in record.getMessage()
    assert "[REDACTED]" in record.getMessage()
    assert "sk_test" not in record.getMessage()


def test_a_plain_call_is_settled_by_a_200_that_fits_its_model() -> None:
    attempts, _ = loop()
    call = prepare()
    assert attempts.plain(call)
    result = attempts.settle(call, received(200))
    assert isinstance(result, models.CheckResponse)
    assert result.allowed


@pytest.mark.parametrize("status", [202, 400, 503])
def test_only_a_200_settles_a_call_before_the_loop(status: int) -> None:
    attempts, _ = loop()
    assert attempts.settle(prepare(), received(status)) is UNSETTLED


def test_an_answer_that_fits_no_model_or_echoes_another_request_is_left_to_the_loop() -> None:
    attempts, _ = loop()
    call = prepare()
    assert attempts.settle(call, received(200, b"<html>")) is UNSETTLED
    other = received(200, {**CHECK_BODY, "customer_id": "cus_other"})
    assert attempts.settle(call, other) is UNSETTLED


def test_a_call_with_hooks_a_log_or_fail_open_is_not_plain(caplog: pytest.LogCaptureFixture) -> None:
    class Hook:
        def after_success(self, ctx: Any, response: httpx.Response) -> httpx.Response:
            return response

    hooked, _ = loop(hooks=[Hook()])
    assert not hooked.plain(prepare())
    failing_open, _ = loop(fail_open=FailOpen(FailOpenPolicy()))
    assert not failing_open.plain(prepare())
    logged, _ = loop()
    logged.debug_logger = logging.getLogger("test.plain")
    assert not logged.plain(prepare())
    with caplog.at_level(logging.DEBUG, logger="meterly"):
        assert not loop()[0].plain(prepare())
