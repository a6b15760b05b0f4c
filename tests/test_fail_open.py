"""fail_open: outages become `allowed=True` answers marked `is_fallback`; caller mistakes still raise."""

from __future__ import annotations

import logging
from typing import Callable

import httpx
import pytest

from meterly import errors, models

from .conftest import Harness, json_response, sequence

Make = Callable[..., Harness]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (json_response(503, {"message": "down"}), "server_error"),
        (json_response(500, {}), "server_error"),
        (httpx.ConnectError("refused"), "connection"),
        (httpx.ReadTimeout("slow"), "timeout"),
    ],
)
def test_outages_answer_allowed_with_is_fallback(
    make: Make, failure: object, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = make(sequence(failure), fail_open=True)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="meterly"):
        res = h.check(customer_id="cus_9", entity_id="seat_2")
    assert isinstance(res, models.CheckResponse)
    assert res.allowed is True
    assert res.is_fallback is True
    assert res.fallback_reason == reason
    assert res.customer_id == "cus_9"
    assert res.entity_id == "seat_2"
    assert res.balance is None
    assert len(h.requests) > 1  # retries ran first
    (record,) = [r for r in caplog.records if r.name == "meterly"]
    assert record.levelno == logging.WARNING
    assert "balancesCheck" in record.getMessage()
    assert reason in record.getMessage()


def test_usage_check_falls_back_too(make: Make) -> None:
    h = make(sequence(json_response(502, {})), fail_open=True, retry_config=None)
    res = h.usage(feature_code="api_calls", quantity=4)
    assert isinstance(res, models.UsageCheck)
    assert (res.allowed, res.is_fallback, res.feature_code, res.quantity) == (True, True, "api_calls", 4)
    assert "is_fallback" not in res.model_dump()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429])
def test_client_errors_are_never_masked(make: Make, status: int) -> None:
    h = make(sequence(json_response(status, {"message": "no"})), fail_open=True, retry_config=None)
    with pytest.raises(errors.APIError):
        h.check()


def test_json_in_the_wrong_shape_is_never_masked(make: Make) -> None:
    h = make(sequence(json_response(200, {"allowed": "maybe"})), fail_open=True)
    with pytest.raises(errors.ResponseValidationError) as caught:
        h.check()
    assert caught.value.body == '{"allowed": "maybe"}'
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            200, content=b"<html>Sign in to the Wi-Fi</html>", headers={"content-type": "text/html"}
        ),
        httpx.Response(200, content=b"<html>"),  # no content type: judged by the body
        httpx.Response(200, content=b"", headers={"content-type": "application/json"}),
        httpx.Response(200, content=b'{"status": "ok"}', headers={"content-type": "text/plain"}),
    ],
    ids=["html", "unparsable-without-content-type", "empty-json", "json-declared-as-text"],
)
def test_a_2xx_that_is_not_the_services_json_answers_the_fallback(make: Make, answer: httpx.Response) -> None:
    h = make(sequence(answer), fail_open=True)
    res = h.check(customer_id="cus_9")
    assert isinstance(res, models.CheckResponse)
    assert (res.allowed, res.is_fallback, res.fallback_reason) == (True, True, "not_json")
    assert res.customer_id == "cus_9"
    assert len(h.requests) == 1  # not retried: a captive portal answers the same way again


def test_request_validation_errors_are_never_masked(make: Make) -> None:
    h = make(sequence(json_response(503, {})), fail_open=True)
    with pytest.raises(errors.RequestValidationError):
        h.check(customer_id="")


def test_fail_open_is_off_by_default(make: Make) -> None:
    h = make(sequence(json_response(503, {})), retry_config=None)
    with pytest.raises(errors.InternalServerError):
        h.check()
