"""Error mapping: each status to its class, both body shapes, request ids, bodies kept."""

from __future__ import annotations

from typing import Callable

import httpx
import pytest

from meterly import Meterly, errors

from .conftest import API_KEY, FakeClock, Harness, json_response, ok_check, sequence

Make = Callable[..., Harness]


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
        (502, errors.InternalServerError),
        (503, errors.InternalServerError),
        (504, errors.InternalServerError),
        (418, errors.APIError),
    ],
)
def test_each_status_raises_its_error_class(make: Make, status: int, cls: type[errors.APIError]) -> None:
    h = make(sequence(json_response(status, {"message": "nope", "code": "some_code"})), retry_config=None)
    with pytest.raises(cls) as info:
        h.check()
    err = info.value
    assert type(err) is cls
    assert isinstance(err, errors.APIError)
    assert isinstance(err, errors.MeterlyError)
    assert err.status_code == status
    assert err.code == "some_code"
    assert err.message == "balancesCheck: nope"
    assert err.request_id == "req_test"
    assert err.raw_response is not None


def test_flat_error_shape_is_parsed(make: Make) -> None:
    body = {"message": "Customer cus_9 not found", "code": "customer_not_found"}
    h = make(sequence(json_response(404, body)))
    with pytest.raises(errors.NotFoundError) as info:
        h.check()
    assert info.value.code == "customer_not_found"
    assert "Customer cus_9 not found" in str(info.value)
    assert info.value.type is None


def test_enveloped_error_shape_is_parsed(make: Make) -> None:
    body = {
        "success": False,
        "error": {
            "type": "invalid_request_error",
            "code": "feature_not_found",
            "message": "No feature api_calls",
            "param": "featureCode",
            "details": {"known": ["a", "b"]},
            "doc_url": "https://docs.meterly.dev/errors#feature_not_found",
        },
    }
    h = make(sequence(json_response(404, body)))
    with pytest.raises(errors.NotFoundError) as info:
        h.usage()
    err = info.value
    assert (err.type, err.code, err.param) == ("invalid_request_error", "feature_not_found", "featureCode")
    assert err.details == {"known": ["a", "b"]}
    assert err.doc_url == "https://docs.meterly.dev/errors#feature_not_found"
    assert err.message == "usageCheck: No feature api_calls"


def test_error_body_is_kept_verbatim_even_when_not_json(make: Make) -> None:
    html = "<html><body>Bad gateway</body></html>"
    h = make(sequence(httpx.Response(400, text=html)))
    with pytest.raises(errors.BadRequestError) as info:
        h.check()
    assert info.value.body == html
    assert info.value.code is None
    assert info.value.message == "balancesCheck: 400 Bad Request"
    assert info.value.request_id is None


def test_rate_limit_error_carries_retry_after(make: Make) -> None:
    h = make(sequence(json_response(429, {"message": "slow down"}, {"retry-after": "30"})))
    with pytest.raises(errors.RateLimitError) as info:
        h.check()
    assert info.value.retry_after == 30.0


def test_rate_limit_error_without_header_has_no_retry_after(make: Make) -> None:
    h = make(sequence(json_response(429, {"message": "slow down"})), retry_config=None)
    with pytest.raises(errors.RateLimitError) as info:
        h.check()
    assert info.value.retry_after is None


def test_server_message_echoing_the_key_is_redacted(make: Make) -> None:
    h = make(sequence(json_response(401, {"message": f"key {API_KEY} is revoked"})))
    with pytest.raises(errors.AuthenticationError) as info:
        h.check()
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert "[REDACTED]" in info.value.message


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[1, 2]", b'{"allowed": "maybe", "customer_id": "c", "balance": null}', b"\xff\xfe"],
)
def test_a_2xx_body_that_does_not_fit_raises_response_validation_error(make: Make, content: bytes) -> None:
    h = make(sequence(httpx.Response(200, content=content)))
    with pytest.raises(errors.ResponseValidationError) as info:
        h.check()
    err = info.value
    assert err.status_code == 200
    assert err.raw_response is not None
    assert err.raw_response.content == content
    assert "balancesCheck" in err.message
    assert len(h.requests) == 1  # never retried


def test_usage_envelope_without_data_raises_response_validation_error(make: Make) -> None:
    h = make(sequence(json_response(200, {"success": True})))
    with pytest.raises(errors.ResponseValidationError) as info:
        h.usage()
    assert info.value.body == '{"success": true}'


def test_connection_error_maps_to_api_connection_error(make: Make) -> None:
    h = make(sequence(httpx.ConnectError("refused")), retry_config=None)
    with pytest.raises(errors.APIConnectionError) as info:
        h.check()
    assert not isinstance(info.value, errors.APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.status_code is None


def test_timeout_maps_to_api_timeout_error(make: Make) -> None:
    h = make(sequence(httpx.ReadTimeout("slow")), retry_config=None)
    with pytest.raises(errors.APITimeoutError):
        h.check()


def test_errors_can_be_caught_at_the_level_the_caller_cares_about() -> None:
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    assert issubclass(errors.RequestValidationError, ValueError)
    for cls in (errors.APIError, errors.APIConnectionError, errors.ResponseValidationError):
        assert issubclass(cls, errors.MeterlyError)


def test_success_after_error_status_is_not_confused(make: Make) -> None:
    h = make(ok_check)
    assert h.check().allowed is True


@pytest.mark.parametrize(
    "body",
    [b"<html><body>Not Found</body></html>", b'{"message": "Not Found"}', b"", b'{"error": "Not Found"}'],
)
def test_a_404_outside_the_services_shapes_names_the_url_and_says_route_not_found(
    make: Make, body: bytes
) -> None:
    h = make(sequence(httpx.Response(404, content=body)), server_url="https://user:pw@host.example/v1")
    with pytest.raises(errors.NotFoundError) as info:
        h.check()
    message = info.value.message
    assert "route not found: POST https://host.example/v1/v1/balances.check answered 404" in message
    assert "it should not end with /v1" in message
    assert "user" not in message
    assert "pw" not in message


def test_a_404_in_the_services_shape_keeps_the_services_message(make: Make) -> None:
    body = {"message": "Customer cus_9 not found", "code": "customer_not_found"}
    h = make(sequence(json_response(404, body)))
    with pytest.raises(errors.NotFoundError) as info:
        h.check()
    assert info.value.message == "balancesCheck: Customer cus_9 not found"
    assert info.value.code == "customer_not_found"


def test_an_error_after_retries_says_how_many_attempts_and_how_long(make: Make, clock: FakeClock) -> None:
    h = make(sequence(json_response(503, {"message": "down", "code": "unavailable"})))
    start = clock.now
    with pytest.raises(errors.InternalServerError) as info:
        h.check()
    error = info.value
    assert error.attempts == len(h.requests) > 1
    assert error.elapsed == pytest.approx(clock.now - start)
    assert f"after {error.attempts} attempts in {error.elapsed:.2f} s" in str(error)


def test_an_error_on_the_first_attempt_says_nothing_about_retries(make: Make) -> None:
    h = make(sequence(json_response(400, {"message": "bad", "code": "invalid_request"})))
    with pytest.raises(errors.BadRequestError) as info:
        h.check()
    assert info.value.attempts == 1
    assert "attempts" not in str(info.value)


def test_a_connection_error_after_retries_says_how_many_attempts(make: Make) -> None:
    h = make(sequence(httpx.ConnectError("refused")))
    with pytest.raises(errors.APIConnectionError) as info:
        h.check()
    assert info.value.attempts == len(h.requests) > 1
    assert "attempts in" in str(info.value)


def test_every_api_error_has_an_int_status_code(make: Make) -> None:
    h = make(sequence(json_response(500, {})), retry_config=None)
    with pytest.raises(errors.InternalServerError) as info:
        h.check()
    status: int = info.value.status_code
    assert status == 500
    assert errors.APIConnectionError("x").status_code is None


# -- bounded text -------------------------------------------------------------------------------------

MEGABYTE_ID = "cus_" + "x" * 1_000_000
BOUND = errors.MAX_MESSAGE_CHARS + 2 * errors.MAX_DETAIL_CHARS + 200  # message, details, separators


def echo_not_found(request: httpx.Request) -> httpx.Response:
    customer = request.read().decode().split('"customer_id":"')[1].split('"')[0]
    return httpx.Response(
        404,
        json={"message": f"customer {customer} not found", "code": "customer_not_found_" + "c" * 5_000},
        headers={"x-request-id": "req_" + "r" * 5_000},
    )


def test_an_error_echoing_a_megabyte_id_has_bounded_text_and_keeps_the_whole_body() -> None:
    sdk = Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(echo_not_found)))
    with pytest.raises(errors.NotFoundError) as caught:
        sdk.balances.check(customer_id=MEGABYTE_ID, feature_id="f")
    error = caught.value
    assert len(str(error)) <= BOUND
    assert len(repr(error)) <= BOUND
    assert len(error.message) <= errors.MAX_MESSAGE_CHARS
    assert error.message.startswith("balancesCheck: customer cus_xxx")  # the head...
    assert error.message.endswith("xxx not found")  # ...and the tail survive
    assert "characters cut" in error.message
    assert MEGABYTE_ID in error.body  # the body is kept whole
    assert error.code == "customer_not_found_" + "c" * 5_000
    assert error.request_id == "req_" + "r" * 5_000


def test_a_request_validation_error_echoing_a_huge_argument_is_bounded() -> None:
    sdk = Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(ok_check)))
    with pytest.raises(errors.RequestValidationError) as caught:
        sdk.usage.track(customer_id="c", feature_code="f", timestamp="t" * 1_000_000)
    assert caught.value.param == "timestamp"
    assert len(str(caught.value)) <= errors.MAX_MESSAGE_CHARS
    assert len(repr(caught.value)) <= BOUND
    with pytest.raises(errors.RequestValidationError) as caught:
        sdk.balances.check(customer_id="c", feature_id="f", required_balance=10**5000)  # past repr's limit
    assert caught.value.param == "required_balance"


@pytest.mark.parametrize("length", [0, 1, 59, 60, 61, 999, 1_000, 1_001, 10**6])
def test_shorten_keeps_short_text_and_cuts_long_text_to_the_limit(length: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(length))
    cut = errors.shorten(text, 1_000)
    assert len(cut) <= 1_000
    if length <= 1_000:
        assert cut == text
    else:
        head, _, tail = cut.partition(" [... ")
        assert text.startswith(head)
        assert text.endswith(tail.split(" ...] ")[1])
        assert f"{length - len(head) - len(tail.split(' ...] ')[1])} characters cut" in cut
