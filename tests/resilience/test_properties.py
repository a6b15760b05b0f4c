"""Property-based (hypothesis): whatever the body a server sends and whatever the arguments a caller
passes, only a result, a `MeterlyError` subclass (a 2xx gives `ResponseValidationError`, a bad
argument `RequestValidationError` before any I/O) ever comes out: never a raw pydantic, httpx, json,
Unicode or KeyError exception."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterly import AsyncMeterly, Meterly, errors, models
from meterly.types import UNSET
from meterly.utils import RetryConfig
from tests.conftest import API_KEY, CHECK_BODY, USAGE_BODY, USAGE_DATA

SETTINGS = settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """`document` with a few leaves or keys replaced by arbitrary JSON, or deleted."""
    if isinstance(document, dict) and document:
        document = dict(document)
        for key in draw(st.lists(st.sampled_from(sorted(document)), max_size=3, unique=True)):
            choice = draw(st.integers(0, 2))
            if choice == 0:
                del document[key]
            elif choice == 1:
                document[key] = draw(json_values)
            else:
                document[key] = draw(mutated(document[key]))
        return document
    if isinstance(document, list) and document:
        return [draw(mutated(item)) for item in document]
    return draw(json_values) if draw(st.booleans()) else document


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(encoded),
    mutated(CHECK_BODY).map(encoded),
    mutated(USAGE_BODY).map(encoded),
    st.just(encoded(USAGE_DATA)),  # the data without its envelope
    st.text(max_size=50).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.just(b'{"allowed": true, "customer_id": "c", "balance": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 400, 401, 404, 409, 422, 429, 500, 502, 503, 418])
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
response_headers = st.dictionaries(
    st.sampled_from(["retry-after", "retry-after-ms", "x-request-id", "content-type", "content-encoding"]),
    header_values,
    max_size=3,
)


class Served:
    """What the mock server answers next, and how many requests reached it."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.headers: dict[str, str] = {}
        self.requests = 0
        self.echo = False
        """Whether the answer echoes the request's ids, as the service does (the SDK refuses an answer
        echoing another request's: API.md "Answers belong to their requests")."""

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        body = self.body
        if self.echo:
            sent, answer = json.loads(request.content), json.loads(body)
            if "data" in answer:  # Commet's envelope
                answer["data"]["featureCode"] = sent.get("featureCode")
            else:
                answer["customer_id"] = sent.get("customer_id")
            body = json.dumps(answer).encode()
        return httpx.Response(self.status, content=body, headers=self.headers)


SERVED = Served()
SYNC = Meterly(
    api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(SERVED.handler)), retry_config=None
)
LOOP = asyncio.new_event_loop()
ASYNC = AsyncMeterly(
    api_key=API_KEY,
    client=httpx.AsyncClient(transport=httpx.MockTransport(SERVED.handler)),
    retry_config=None,
)


@pytest.fixture(scope="module", autouse=True)
def _close_the_loop() -> Iterator[None]:
    yield
    LOOP.close()


def outcome(call: Any) -> Any:
    """The result of a call, or the MeterlyError it raised; anything else propagates and fails the test."""
    try:
        return LOOP.run_until_complete(call) if asyncio.iscoroutine(call) else call()
    except errors.MeterlyError as exc:
        printable = (str(exc), repr(exc))
        return exc if all(printable) else None


def serve(status: int, body: bytes, headers: dict[str, str], echo: bool = False) -> None:
    SERVED.status, SERVED.body, SERVED.headers, SERVED.echo = status, body, headers, echo


@SETTINGS
@given(status=statuses, body=bodies, headers=response_headers)
def test_any_response_to_balances_check_gives_a_result_or_a_meterly_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    serve(status, body, headers)
    for call in (
        lambda: SYNC.balances.check(customer_id="cus_123", feature_id="f"),
        ASYNC.balances.check(customer_id="cus_123", feature_id="f"),
    ):
        result = outcome(call)
        if 200 <= status < 300:
            # A body whose customer_id was mutated answers another request: ResponseMismatchError.
            assert isinstance(
                result, (models.CheckResponse, errors.ResponseValidationError, errors.ResponseMismatchError)
            )
            if isinstance(result, errors.ResponseMismatchError):
                assert json.loads(body)["customer_id"] != "cus_123"
        elif status == 429:
            assert isinstance(result, errors.RateLimitError)
        else:
            assert isinstance(result, errors.APIError)
            assert result.status_code == status


@SETTINGS
@given(status=statuses, body=bodies, headers=response_headers)
def test_any_response_to_usage_check_gives_a_result_or_a_meterly_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    serve(status, body, headers)
    for call in (
        lambda: SYNC.usage.check(customer_id="c", feature_code="api_calls"),
        ASYNC.usage.check(customer_id="c", feature_code="api_calls"),
    ):
        result = outcome(call)
        if 200 <= status < 300:
            # A body whose featureCode was mutated answers another request: ResponseMismatchError.
            assert isinstance(
                result, (models.UsageCheck, errors.ResponseValidationError, errors.ResponseMismatchError)
            )
            if isinstance(result, errors.ResponseMismatchError):
                assert json.loads(body)["data"]["featureCode"] != "api_calls"
        else:
            assert isinstance(result, errors.APIError)


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from([object(), UNSET, math.inf, -0.0, "\r\n", "a\x00b", "\ud800", "é", " ", "x" * 300]),
)
ids = st.one_of(st.text(max_size=12), anything)
properties = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), anything, max_size=2),
)
headers = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=2),
    st.dictionaries(
        st.one_of(st.text(max_size=4), st.integers(), st.binary(max_size=4)), anything, max_size=1
    ),
)
urls = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.text(max_size=20).map(lambda t: "https://" + t),
    st.text(max_size=20).map(lambda t: "http://api.example.com/" + t),
    anything,
)


ARBITRARY_BALANCES_ARGS = {
    "customer_id": ids,
    "feature_id": ids,
    "entity_id": ids,
    "required_balance": anything,
    "properties": properties,
    "send_event": anything,
    "with_preview": anything,
    "idempotency_key": ids,
    "timeout_ms": anything,
    "http_headers": headers,
    "server_url": urls,
    "retries": st.one_of(st.just(UNSET), st.none(), st.just(RetryConfig()), anything),
}
ARBITRARY_USAGE_ARGS = {
    "customer_id": ids,
    "feature_code": ids,
    "quantity": anything,
    "idempotency_key": ids,
    "timeout_ms": anything,
    "http_headers": headers,
    "server_url": urls,
}


@st.composite
def arguments(draw: st.DrawFn, valid: dict[str, Any], arbitrary: dict[str, Any]) -> dict[str, Any]:
    """Valid arguments with one to three of them replaced by arbitrary values (so each is exercised)."""
    kwargs = dict(valid)
    for name in draw(st.lists(st.sampled_from(sorted(arbitrary)), min_size=1, max_size=3, unique=True)):
        kwargs[name] = draw(arbitrary[name])
    return kwargs


@SETTINGS
@given(kwargs=arguments({"customer_id": "cus_1", "feature_id": "messages"}, ARBITRARY_BALANCES_ARGS))
def test_any_arguments_to_balances_check_give_a_result_or_a_request_validation_error(
    kwargs: dict[str, Any],
) -> None:
    serve(200, encoded(CHECK_BODY), {}, echo=True)
    before = SERVED.requests
    for call in (lambda: SYNC.balances.check(**kwargs), ASYNC.balances.check(**kwargs)):
        result = outcome(call)
        if isinstance(result, errors.MeterlyError):
            assert isinstance(result, errors.RequestValidationError), result
            assert result.param in kwargs or result.param == "properties"
            assert SERVED.requests == before  # raised before any I/O
        else:
            assert isinstance(result, models.CheckResponse)
            before = SERVED.requests


@SETTINGS
@given(kwargs=arguments({"customer_id": "cus_1", "feature_code": "api_calls"}, ARBITRARY_USAGE_ARGS))
def test_any_arguments_to_usage_check_give_a_result_or_a_request_validation_error(
    kwargs: dict[str, Any],
) -> None:
    serve(200, encoded(USAGE_BODY), {}, echo=True)
    before = SERVED.requests
    for call in (lambda: SYNC.usage.check(**kwargs), ASYNC.usage.check(**kwargs)):
        result = outcome(call)
        if isinstance(result, errors.MeterlyError):
            assert isinstance(result, errors.RequestValidationError), result
            assert result.param in kwargs
            assert SERVED.requests == before
        else:
            assert isinstance(result, models.UsageCheck)
            before = SERVED.requests


@SETTINGS
@given(api_key=st.one_of(st.text(max_size=12), st.sampled_from(["sk\r\nx", "clé", "\ud800", "a\x85b"])))
def test_any_api_key_gives_a_result_or_a_request_validation_error(api_key: str) -> None:
    serve(200, encoded(CHECK_BODY), {}, echo=True)
    client = Meterly(api_key=api_key, client=httpx.Client(transport=httpx.MockTransport(SERVED.handler)))
    result = outcome(lambda: client.balances.check(customer_id="c", feature_id="f"))
    assert isinstance(result, (models.CheckResponse, errors.RequestValidationError))
    if isinstance(result, errors.RequestValidationError):
        assert result.param == "api_key"
        assert api_key not in str(result) or not api_key


accepted_ids = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12)
scalar_args = st.fixed_dictionaries(
    {"customer_id": accepted_ids, "feature_id": accepted_ids},
    optional={
        "entity_id": accepted_ids,
        "required_balance": st.one_of(
            st.floats(allow_nan=False, allow_infinity=False), st.integers(min_value=-(2**80), max_value=2**80)
        ),
        "send_event": st.booleans(),
        "with_preview": st.booleans(),
    },
)


@SETTINGS
@given(kwargs=scalar_args)
def test_an_accepted_body_of_scalars_reads_back_as_exactly_the_values_given(
    kwargs: dict[str, Any],
) -> None:
    # Bodies without `properties` take a compiled encoder. Its JSON must read back as exactly the values
    # given: same keys in the same order, same types, floats bit for bit (repr shows -0.0 and 1 vs 1.0).
    # Only an exponent's spelling may differ from the json module's (5.96e-8 where json writes 5.96e-08).
    from meterly._options import CallOptions
    from meterly.balances import BALANCES_CHECK

    args = {param.name: kwargs.get(param.name) for param in BALANCES_CHECK.params}
    call = SYNC._pipeline.prepare(BALANCES_CHECK, args, options=CallOptions())
    body = {param.key: kwargs[param.name] for param in BALANCES_CHECK.params if param.name in kwargs}
    assert repr(json.loads(call.body)) == repr(body)
    if not any(isinstance(value, float) for value in body.values()):
        assert call.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
