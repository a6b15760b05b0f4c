"""Turning a response into a result or a typed error: pure functions of the response."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from meterly import errors, models
from meterly._registry import BY_ID
from meterly._responses import error_fields, error_from_response, is_the_services_json, parse_success
from tests.conftest import CHECK_BODY

CHECK = BY_ID["balancesCheck"]
URL = "https://user:pw@api.meterly.dev/v1/balances.check?secret=1"


def response(status: int, body: Any = None, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers, request=httpx.Request("POST", URL))


def test_error_fields_read_the_flat_shape() -> None:
    assert error_fields('{"message": "no", "code": "c"}') == {
        "message": "no",
        "code": "c",
        "type": None,
        "param": None,
        "details": None,
        "doc_url": None,
    }


def test_error_fields_read_the_nested_shape() -> None:
    fields = error_fields(
        '{"success": false, "error": {"type": "t", "code": "c", "message": "m", "param": "p"}}'
    )
    assert (fields["type"], fields["code"], fields["message"], fields["param"]) == ("t", "c", "m", "p")


def test_an_error_string_is_the_message() -> None:
    assert error_fields('{"error": "bad key"}')["message"] == "bad key"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "[" * 100_000, '"text"'])
def test_a_body_that_is_not_a_json_object_gives_no_fields(body: str) -> None:
    assert error_fields(body) == {}


def test_a_field_that_is_not_text_is_left_out() -> None:
    assert error_fields('{"message": 3, "code": ["x"]}')["message"] is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.InternalServerError),
        (418, errors.APIError),
    ],
)
def test_each_status_maps_to_its_error_class(status: int, cls: type) -> None:
    error = error_from_response("balancesCheck", response(status, {"message": "m", "code": "c"}))
    assert type(error) is cls
    assert str(error).startswith("balancesCheck: m")


def test_the_body_is_kept_as_received() -> None:
    error = error_from_response("balancesCheck", response(400, b"<html>oops</html>"))
    assert error.body == "<html>oops</html>"


def test_a_rate_limit_error_reads_retry_after() -> None:
    error = error_from_response("balancesCheck", response(429, {}, **{"retry-after": "7"}))
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 7


def test_the_secret_is_redacted_from_the_message() -> None:
    error = error_from_response(
        "balancesCheck", response(401, {"message": "bad key sk_live_x"}), secret="sk_live_x"
    )
    assert "sk_live_x" not in str(error)


def test_a_route_not_found_names_the_url_without_credentials_or_query() -> None:
    message = str(error_from_response("balancesCheck", response(404, {})))
    assert "route not found" in message
    assert "user" not in message
    assert "secret" not in message


def test_a_redirect_is_refused_naming_the_target_without_its_query() -> None:
    message = str(
        error_from_response("balancesCheck", response(302, b"", location="https://other.example/x?k=1"))
    )
    assert "https://other.example/x" in message
    assert "k=1" not in message


def test_a_valid_body_parses_to_the_result() -> None:
    result = parse_success("balancesCheck", CHECK.parse, response(200, CHECK_BODY))
    assert isinstance(result, models.CheckResponse)
    assert not result.is_degraded


def test_a_202_result_is_marked_degraded() -> None:
    result = parse_success("balancesCheck", CHECK.parse, response(202, CHECK_BODY))
    assert isinstance(result, models.CheckResponse)
    assert result.is_degraded


def test_a_body_that_does_not_fit_is_a_response_validation_error_not_raised() -> None:
    result = parse_success("balancesCheck", CHECK.parse, response(200, {"allowed": "maybe"}))
    assert isinstance(result, errors.ResponseValidationError)
    assert str(result).startswith("balancesCheck: the 200 response does not fit")


def test_a_json_body_is_the_services_but_an_html_page_is_not() -> None:
    bad_json = parse_success("balancesCheck", CHECK.parse, response(200, {"allowed": "maybe"}))
    html = parse_success(
        "balancesCheck", CHECK.parse, response(200, b"<html/>", **{"content-type": "text/html"})
    )
    assert isinstance(bad_json, errors.ResponseValidationError)
    assert isinstance(html, errors.ResponseValidationError)
    assert is_the_services_json(bad_json)
    assert not is_the_services_json(html)


def test_a_body_that_is_not_json_is_not_the_services() -> None:
    result = parse_success("balancesCheck", CHECK.parse, response(200, b"not json"))
    assert isinstance(result, errors.ResponseValidationError)
    assert not is_the_services_json(result)
