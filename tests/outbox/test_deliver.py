"""What each failure of a delivery means: retry later (with the service's Retry-After), or reject for good."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from meterly import errors
from meterly._prepare import EncodedArray
from meterly.outbox import DELIVERED, REJECTED, RETRY, Event, classify
from meterly.outbox._deliver import batch_body


def api_error(cls: type[errors.APIError], status: int, **kwargs: object) -> errors.APIError:
    response = httpx.Response(
        status, request=httpx.Request("POST", "https://api.meterly.dev/v1/usage/events")
    )
    return cls("failed", raw_response=response, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.BadRequestError, 400),
        (errors.NotFoundError, 404),
        (errors.ConflictError, 409),
        (errors.UnprocessableEntityError, 422),
    ],
)
def test_a_4xx_that_retrying_cannot_fix_is_rejected(cls: type[errors.APIError], status: int) -> None:
    assert classify(api_error(cls, status)).kind == REJECTED


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.AuthenticationError, 401),
        (errors.PermissionDeniedError, 403),
        (errors.InternalServerError, 503),
    ],
)
def test_a_bad_key_or_a_5xx_waits_for_a_retry(cls: type[errors.APIError], status: int) -> None:
    assert classify(api_error(cls, status)).kind == RETRY


def test_a_429_is_retried_after_the_wait_the_service_asked_for() -> None:
    outcome = classify(api_error(errors.RateLimitError, 429, retry_after=7.5))
    assert (outcome.kind, outcome.retry_after) == (RETRY, 7.5)


def test_connection_errors_and_timeouts_are_retried_when_the_service_deduplicates() -> None:
    assert classify(errors.APIConnectionError("refused")).kind == RETRY
    assert classify(errors.APITimeoutError("timed out")).kind == RETRY


def test_a_write_the_service_does_not_deduplicate_is_never_resent_after_an_unknown_outcome() -> None:
    timeout = classify(errors.APITimeoutError("timed out"), deduplicated=False)
    assert timeout.kind == REJECTED
    assert "outcome unknown" in str(timeout.error)
    assert classify(api_error(errors.InternalServerError, 502), deduplicated=False).kind == REJECTED
    assert classify(errors.APIConnectionError("refused"), deduplicated=False).kind == RETRY


def test_a_2xx_whose_body_does_not_fit_counts_as_delivered() -> None:
    response = httpx.Response(200, request=httpx.Request("POST", "https://api.meterly.dev/v1/usage/events"))
    assert classify(errors.ResponseValidationError("bad body", raw_response=response)).kind == DELIVERED


def test_an_outcome_unknown_write_is_resent_with_its_key_when_the_service_deduplicates() -> None:
    unknown = errors.WriteOutcomeUnknownError(
        "usageTrack: the write may have been recorded", idempotency_key="key-1", operation="usageTrack"
    )
    assert classify(unknown).kind == RETRY  # Commet's Idempotency-Key, Autumn's batch item key


def test_an_outcome_unknown_write_the_service_does_not_deduplicate_is_dead_lettered() -> None:
    unknown = errors.WriteOutcomeUnknownError(
        "balancesTrackTokens: reset after sending", idempotency_key=None, operation="balancesTrackTokens"
    )
    outcome = classify(unknown, deduplicated=False)
    assert outcome.kind == REJECTED
    assert "outcome unknown" in str(outcome.error)
    assert "reset after sending" in str(outcome.error)


def test_another_request_s_answer_is_retried_only_when_the_service_deduplicates() -> None:
    response = httpx.Response(200, request=httpx.Request("POST", "https://api.meterly.dev/v1/usage/events"))
    mismatch = errors.ResponseMismatchError(
        "echoes another customer_id", field="customer_id", raw_response=response
    )
    assert classify(mismatch).kind == RETRY
    not_deduplicated = classify(mismatch, deduplicated=False)
    assert not_deduplicated.kind == REJECTED
    assert "outcome unknown" in str(not_deduplicated.error)


def test_a_408_may_come_after_the_service_acted_so_it_is_resent_only_when_deduplicated() -> None:
    timeout = api_error(errors.APIError, 408)
    assert classify(timeout).kind == RETRY
    outcome = classify(timeout, deduplicated=False)
    assert outcome.kind == REJECTED
    assert "outcome unknown" in str(outcome.error)
    refused = classify(api_error(errors.RateLimitError, 429, retry_after=1.0), deduplicated=False)
    assert (refused.kind, refused.retry_after) == (RETRY, 1.0)  # a 429 is refused unread


def track_event(i: int, **body: object) -> Event:
    return Event("balancesTrack", {"customer_id": "cus_1", "feature_id": "m", **body}, f"k-{i}", 1.0, 0, i)


def test_a_batch_of_this_version_s_events_goes_encoded_under_the_json_keys() -> None:
    events = [track_event(1, value=2, async_=True), track_event(2, properties={"a": [1]})]
    body = batch_body(events)
    assert isinstance(body, EncodedArray)
    assert json.loads(body) == [
        {"customer_id": "cus_1", "feature_id": "m", "value": 2, "async": True, "idempotency_key": "k-1"},
        {"customer_id": "cus_1", "feature_id": "m", "properties": {"a": [1]}, "idempotency_key": "k-2"},
    ]


def test_a_batch_with_an_argument_this_version_does_not_check_goes_as_dicts_to_be_checked() -> None:
    body = batch_body([track_event(1), track_event(2, unknown_argument=1)])
    assert not isinstance(body, EncodedArray)
    assert body[1] == {
        "customer_id": "cus_1",
        "feature_id": "m",
        "unknown_argument": 1,
        "idempotency_key": "k-2",
    }


def test_a_batch_that_json_cannot_encode_goes_as_dicts_to_be_refused() -> None:
    body = batch_body([track_event(1, properties={"x": math.nan})])
    assert not isinstance(body, EncodedArray)
