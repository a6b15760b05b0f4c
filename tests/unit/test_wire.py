"""The wire types (`meterly._wire`): what the attempt loop hands an engine, and what one hands back."""

from __future__ import annotations

import httpx

from meterly._wire import Call, Received, httpx_request

from .fakes import prepare


def test_a_call_becomes_the_request_it_describes() -> None:
    call = prepare(options=None, customer_id="cus_7")
    request = call.to_request()
    assert (request.method, str(request.url)) == ("POST", "https://api.meterly.dev/v1/balances.check")
    assert request.content == call.body
    assert request.headers["idempotency-key"] == call.headers["idempotency-key"]


def test_a_call_with_a_timeout_carries_it_as_the_request_timeout_extension() -> None:
    call = prepare()
    call.timeout = httpx.Timeout(0.25)
    expected = {"connect": 0.25, "read": 0.25, "write": 0.25, "pool": 0.25}
    assert call.to_request().extensions["timeout"] == expected


def test_an_httpx_client_builds_the_request_with_its_own_defaults() -> None:
    with httpx.Client(headers={"x-client": "1"}) as client:
        request = httpx_request(client, prepare())
    assert request.headers["x-client"] == "1"
    assert request.headers["content-type"] == "application/json"


def test_a_received_response_becomes_an_httpx_response_of_its_call() -> None:
    call = prepare()
    response = Received(202, b"{}", [("x-request-id", "req_1")], call).to_httpx()
    assert (response.status_code, response.content, response.headers["x-request-id"]) == (202, b"{}", "req_1")
    assert response.request.url == call.url


def test_a_call_records_no_deadline_until_an_attempt_is_cut() -> None:
    assert isinstance(prepare(), Call)
    assert prepare().time_left is None
