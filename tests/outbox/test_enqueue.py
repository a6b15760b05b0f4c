"""Queueing: what `client.outbox.<resource>.<method>(...)` checks, stores and returns, before any I/O."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from meterly import errors, models
from meterly.outbox import RETRY, ClientOutbox, Outbox, Outcome

from .conftest import Recorder


def outbox(deliver: Any = None, **config: Any) -> ClientOutbox:
    config.setdefault("close_timeout_ms", 50)
    return ClientOutbox(None, Outbox(**config), deliver=deliver or Recorder(Outcome(RETRY)))


def test_track_returns_queued_at_once_with_its_operation_key_and_time() -> None:
    box = outbox()
    before = datetime.now(timezone.utc)
    queued = box.usage.track(customer_id="cus_1", feature_code="api_calls", value=3)
    assert isinstance(queued, models.Queued)
    assert queued.operation == "usageTrack"
    assert len(queued.idempotency_key) == 36  # a UUID4
    assert before <= queued.enqueued_at <= datetime.now(timezone.utc)
    assert box.pending() == 1
    box.close()


def test_the_event_timestamp_is_the_moment_it_was_queued() -> None:
    recorder = Recorder()
    box = outbox(recorder)
    commet = box.usage.track(customer_id="cus_1", feature_code="api_calls")
    autumn = box.balances.track(customer_id="cus_1", feature_id="messages", value=2)
    box.flush(timeout_ms=2_000)
    by_key = {e.idempotency_key: e for e in recorder.events}
    stamp = datetime.fromisoformat(by_key[commet.idempotency_key].body["timestamp"])
    assert abs((stamp - commet.enqueued_at).total_seconds()) < 0.001  # ISO 8601, to the millisecond
    ms = by_key[autumn.idempotency_key].body["timestamp"]
    assert ms == int(autumn.enqueued_at.timestamp() * 1000)  # Autumn's Unix milliseconds
    box.close()


def test_a_timestamp_given_by_the_caller_is_kept() -> None:
    recorder = Recorder()
    box = outbox(recorder)
    when = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    box.usage.track(customer_id="cus_1", feature_code="api_calls", timestamp=when)
    box.balances.track(customer_id="cus_1", feature_id="messages", timestamp=when)
    box.flush(timeout_ms=2_000)
    commet, autumn = sorted(recorder.events, key=lambda e: e.operation, reverse=True)
    assert commet.body["timestamp"] == when.isoformat()
    assert autumn.body["timestamp"] == int(when.timestamp() * 1000)
    box.close()


@pytest.mark.parametrize(
    ("call", "kwargs", "param"),
    [
        ("usage", {"customer_id": "", "feature_code": "api_calls"}, "customer_id"),
        ("usage", {"customer_id": "cus_1", "feature_code": "api_calls", "value": math.nan}, "value"),
        (
            "usage",
            {"customer_id": "cus_1", "feature_code": "api_calls", "properties": {"a": 1}},
            "properties",
        ),
        (
            "usage",
            {"customer_id": "cus_1", "feature_code": "api_calls", "idempotency_key": "a\nb"},
            "idempotency_key",
        ),
        ("balances", {"customer_id": "cus_1"}, "feature_id"),
        ("balances", {"customer_id": "cus_1", "feature_id": "m", "event_name": "e"}, "feature_id"),
        (
            "balances",
            {"customer_id": "cus_1", "feature_id": "m", "overage_behavior": "all"},
            "overage_behavior",
        ),
        (
            "balances",
            {"customer_id": "cus_1", "feature_id": "m", "properties": {"at": object()}},
            "properties",
        ),
        (  # refused when queued, not dead-lettered when its batch is encoded
            "balances",
            {"customer_id": "cus_1", "feature_id": "m", "properties": {"ratio": math.inf}},
            "properties",
        ),
        (
            "balances",
            {"customer_id": "cus_1", "feature_id": "m", "properties": {"deep": [math.nan]}},
            "properties",
        ),
    ],
)
def test_bad_arguments_raise_request_validation_error_before_queueing(
    call: str, kwargs: dict[str, Any], param: str
) -> None:
    box = outbox()
    with pytest.raises(errors.RequestValidationError) as caught:
        getattr(box, call).track(**kwargs)
    assert caught.value.param == param
    assert box.pending() == 0
    box.close()


def test_track_tokens_checks_its_token_counts() -> None:
    box = outbox()
    with pytest.raises(errors.RequestValidationError) as caught:
        box.balances.track_tokens(
            customer_id="cus_1", model_id="openai/gpt-5", input_tokens=-1, output_tokens=2
        )
    assert caught.value.param == "input_tokens"
    queued = box.balances.track_tokens(
        customer_id="cus_1", model_id="openai/gpt-5", input_tokens=1, output_tokens=2
    )
    assert queued.operation == "balancesTrackTokens"
    box.close()


def test_a_service_failure_never_reaches_the_caller() -> None:
    def broken(operation: str, events: Any) -> Any:
        raise errors.APIConnectionError("down")

    box = outbox(broken, retry_initial_ms=10, retry_max_ms=10)
    for _ in range(50):
        box.usage.track(customer_id="cus_1", feature_code="api_calls")
    result = box.flush(timeout_ms=100)
    assert (result.delivered, result.pending, result.rejected) == (0, 50, 0)
    box.close()


def test_properties_are_copied_when_queued() -> None:
    recorder = Recorder()
    box = outbox(recorder)
    properties = {"model": "gpt-5"}
    box.balances.track(customer_id="cus_1", feature_id="messages", properties=properties)
    properties["model"] = "changed"
    box.flush(timeout_ms=2_000)
    assert recorder.events[0].body["properties"] == {"model": "gpt-5"}
    box.close()


def test_a_closed_outbox_refuses_new_events() -> None:
    box = outbox(Recorder())
    box.close()
    with pytest.raises(errors.RequestValidationError):
        box.usage.track(customer_id="cus_1", feature_code="api_calls")


def test_outbox_config_checks_its_fields() -> None:
    with pytest.raises(errors.RequestValidationError, match="on_full"):
        Outbox(on_full="block")  # type: ignore[arg-type]
    with pytest.raises(errors.RequestValidationError, match="max_pending"):
        Outbox(max_pending=0)
    with pytest.raises(AttributeError):
        Outbox().max_pending = 5


def test_an_in_memory_outbox_reports_what_it_drops_at_close(caplog: pytest.LogCaptureFixture) -> None:
    box = outbox(retry_initial_ms=10_000, close_timeout_ms=50)
    for _ in range(7):
        box.usage.track(customer_id="cus_1", feature_code="api_calls")
    start = time.monotonic()
    box.close()
    assert time.monotonic() - start < 1.0
    assert box.stats().dropped == 7
    assert "closed with 7 undelivered events held in memory" in caplog.text
