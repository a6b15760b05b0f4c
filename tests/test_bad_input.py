"""Each bad input that once escaped as an internal exception is a `RequestValidationError` naming the
argument or field, raised before any I/O (at construction when the value is a constructor's)."""

from __future__ import annotations

import logging
from typing import Any, Callable

import httpx
import pytest

from meterly import AsyncMeterly, FailOpenPolicy, Meterly, errors, models
from meterly.utils import BackoffStrategy, RetryConfig

from .conftest import API_KEY


class Counting:
    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(500)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


CHECK = {"customer_id": "c", "feature_id": "f"}
TRACK = {"customer_id": "c", "feature_code": "f"}

CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("value", "usage.track", {**TRACK, "value": 10**400}),
    ("value", "usage.track", {**TRACK, "value": -(10**400)}),
    ("required_balance", "balances.check", {**CHECK, "required_balance": 10**400}),
    ("required_balance", "balances.check", {**CHECK, "required_balance": 10**5000}),
    ("timeout_ms", "balances.check", {**CHECK, "timeout_ms": 10**400}),
    ("http_headers", "balances.check", {**CHECK, "http_headers": "x-a: b"}),
    ("http_headers", "balances.check", {**CHECK, "http_headers": b"x-a: b"}),
    ("http_headers", "balances.check", {**CHECK, "http_headers": True}),
    ("http_headers", "usage.check", {**TRACK, "http_headers": [("x-a", "b")]}),
    ("http_headers", "usage.check", {**TRACK, "http_headers": 3}),
    ("http_headers", "usage.check", {**TRACK, "http_headers": []}),
    ("properties", "balances.check", {**CHECK, "properties": nested(5_000)}),
    ("properties", "balances.track", {**CHECK, "properties": nested(201)}),
    ("events", "balances.batch_track", {"events": [{**CHECK, "properties": nested(5_000)}]}),
    ("events", "balances.batch_track", {"events": [{**CHECK, "properties": {"x": object()}}]}),
    ("events", "balances.batch_track", {"events": [{**CHECK, "properties": {"x": b"\xff"}}]}),
    # JSON has no NaN nor infinity: sent as null, a `value` would be read as the default amount
    ("events", "balances.batch_track", {"events": [{**CHECK, "value": float("nan")}]}),
    ("events", "balances.batch_track", {"events": [{**CHECK, "value": float("inf")}]}),
    ("events", "balances.batch_track", {"events": [{**CHECK, "properties": {"x": float("nan")}}]}),
    ("events", "balances.batch_track", {"events": [{**CHECK, "properties": {"x": {1, 2}}}]}),
    ("server_url", "balances.check", {**CHECK, "server_url": nested(5_000)}),
]


@pytest.mark.parametrize(("param", "operation", "kwargs"), CALLS, ids=[c[0] + "-" + c[1] for c in CALLS])
def test_a_bad_call_argument_is_a_request_validation_error_before_any_io(
    param: str, operation: str, kwargs: dict[str, Any]
) -> None:
    counting = Counting()
    sdk = Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(counting)))
    resource, method = operation.split(".")
    with pytest.raises(errors.RequestValidationError) as caught:
        getattr(getattr(sdk, resource), method)(**kwargs)
    assert caught.value.param == param
    assert isinstance(caught.value, ValueError)
    assert counting.requests == 0


CONSTRUCTIONS: list[tuple[str, Callable[[], object]]] = [
    ("timeout_ms", lambda: Meterly(api_key=API_KEY, timeout_ms=10**400)),
    ("timeout_ms", lambda: AsyncMeterly(api_key=API_KEY, timeout_ms=10**400)),
    ("debug_logger", lambda: Meterly(api_key=API_KEY, debug_logger=True)),  # type: ignore[arg-type]
    ("debug_logger", lambda: AsyncMeterly(api_key=API_KEY, debug_logger="meterly")),  # type: ignore[arg-type]
    ("hooks", lambda: Meterly(api_key=API_KEY, hooks={"before_request": print})),  # type: ignore[arg-type]
    ("hooks", lambda: AsyncMeterly(api_key=API_KEY, hooks=[42])),  # type: ignore[list-item]
    ("Security.bearer_auth", lambda: models.Security(bearer_auth=1)),  # type: ignore[arg-type]
    ("Security.api_key_auth", lambda: models.Security(api_key_auth=["sk"])),  # type: ignore[arg-type]
    ("FailOpenPolicy.default", lambda: FailOpenPolicy(default="maybe")),  # type: ignore[arg-type]
    ("FailOpenPolicy.cooldown_ms", lambda: FailOpenPolicy(cooldown_ms=float("inf"))),  # type: ignore[arg-type]
    ("FailOpenPolicy.last_known_max_age_ms", lambda: FailOpenPolicy(last_known_max_age_ms=10**400)),
    ("RetryConfig.strategy", lambda: RetryConfig(strategy="linear")),  # type: ignore[arg-type]
    ("RetryConfig.backoff", lambda: RetryConfig(backoff={"initial_interval": 1})),  # type: ignore[arg-type]
    ("RetryConfig.retry_connection_errors", lambda: RetryConfig(retry_connection_errors="yes")),  # type: ignore[arg-type]
    ("RetryConfig.max_retries", lambda: RetryConfig(max_retries=-1)),
    ("BackoffStrategy.initial_interval", lambda: BackoffStrategy(initial_interval=10**400)),
    ("BackoffStrategy.max_elapsed_time", lambda: BackoffStrategy(max_elapsed_time=float("nan"))),  # type: ignore[arg-type]
    ("BackoffStrategy.exponent", lambda: BackoffStrategy(exponent=float("inf"))),
]


@pytest.mark.parametrize(("param", "build"), CONSTRUCTIONS, ids=[c[0] for c in CONSTRUCTIONS])
def test_a_bad_constructor_or_configuration_value_is_a_request_validation_error(
    param: str, build: Callable[[], object]
) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        build()
    assert caught.value.param == param
    assert isinstance(caught.value, ValueError)


def test_a_security_error_never_shows_the_value_it_was_given() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        models.Security(bearer_auth=["sk_live_secret"])  # type: ignore[arg-type]
    assert "sk_live_secret" not in str(caught.value)
    assert "sk_live_secret" not in repr(caught.value)


def test_a_debug_logger_that_is_a_logger_is_accepted() -> None:
    sdk = Meterly(api_key=API_KEY, debug_logger=logging.getLogger("tests.bad_input"))
    assert sdk._config.debug_logger is logging.getLogger("tests.bad_input")


def test_a_huge_backoff_exponent_never_overflows_a_retry_decision() -> None:
    from meterly.utils.retries import retry_delay

    config = RetryConfig(backoff=BackoffStrategy(exponent=1e300, max_elapsed_time=10**12))
    delays = [
        retry_delay(config, attempt, 0.0, retryable=True, rand=lambda: 0.5) for attempt in (1, 2, 3, 500)
    ]
    assert delays[-1] == pytest.approx(0.375)  # capped at max_interval (500 ms), three quarters of it
