"""The behaviour every operation shares, tested once over the registry so a new operation is covered
without a new test: what it sends, the key that makes retries safe, validation before any I/O, and its
raw response. Both clients, each answered by an httpx MockTransport (no socket)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Callable, Dict

import httpx
import pydantic
import pytest

from meterly import errors
from meterly._declaration import BODY_KEY, Operation
from meterly._registry import OPERATIONS
from tests.conftest import API_KEY, BASE, Harness, json_response, sequence

Make = Callable[..., Harness]
IDS = [op.operation_id for op in OPERATIONS]
CANDIDATES = ("cus_1", 1, True, {"key": "value"})
REFUSED = json_response(400, {"message": "refused", "code": "bad_request"})


def valid_item(model: Any) -> Dict[str, Any]:
    """One item of an array body: the item model's required fields, then its optional ones in order until
    the model accepts it (a track event needs one of `feature_id` and `event_name`)."""
    fields = list(model.model_fields.items())
    item: Dict[str, Any] = {}
    for name, field in [
        *[f for f in fields if f[1].is_required()],
        *[f for f in fields if not f[1].is_required()],
    ]:
        try:
            return dict(model.model_validate(item).model_dump(by_alias=True, mode="json", exclude_unset=True))
        except pydantic.ValidationError:
            pass
        item[field.alias or name] = next(iter(field.examples or ())) if field.examples else "x"
    return dict(model.model_validate(item).model_dump(by_alias=True, mode="json", exclude_unset=True))


def valid_arguments(op: Operation[Any]) -> Dict[str, Any]:
    """A value each required body parameter accepts (the first candidate its check lets through, else the
    field's own example), one item for an array body, and the first of an `exactly_one_of` group."""
    if op.array_body is not None:
        return {op.array_body.name: [valid_item(op.request_model)]}
    fields = op.request_model.model_fields
    arguments: Dict[str, Any] = {}
    for param in op.params:
        if not (param.required or param.name == next(iter(op.exactly_one_of), None)):
            continue
        for candidate in (*CANDIDATES, *(fields[param.name].examples or ())):
            try:
                param.check(param.name, candidate)
            except errors.RequestValidationError:
                continue
            arguments[param.name] = candidate
            break
        else:
            pytest.fail(f"no candidate value passes {op.operation_id}'s check of {param.name}")
    return arguments


def never_resent_once_it_may_have_arrived(op: Operation[Any]) -> bool:
    """Whether the call with `valid_arguments` is a write its service does not deduplicate (the
    declaration's `writes` and `dedup`): it is resent only when it certainly never arrived."""
    return op.dedup == "none" and op.writes_with(valid_arguments(op))


def retried_status(op: Operation[Any]) -> int:
    """A status the SDK retries for this operation with `valid_arguments`: a 503, unless the call may not
    be resent once it may have arrived; then a 429 (the service refused it without acting)."""
    return 429 if never_resent_once_it_may_have_arrived(op) else 503


def refused_call(h: Harness, op: Operation[Any], **kwargs: Any) -> None:
    """Calls `op` on a server that answers 400, so the request is seen whatever the operation returns."""
    with pytest.raises(errors.BadRequestError):
        h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op), **kwargs)


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_request_goes_to_the_declared_method_and_path(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    refused_call(h, op)
    (request,) = h.requests
    assert request.method == op.method
    assert str(request.url) == BASE + op.path


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_key_goes_in_the_declared_security_header(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    refused_call(h, op)
    (request,) = h.requests
    assert request.headers[op.security.header] == op.security.prefix + API_KEY


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.version_header], ids=lambda op: op.operation_id)
def test_the_declared_api_version_is_sent_by_default(make: Make, op: Operation[Any]) -> None:
    assert op.version_header is not None
    h = make(sequence(REFUSED))
    refused_call(h, op)
    (request,) = h.requests
    assert request.headers[op.version_header.name] == op.version_header.default


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_required_arguments_are_sent_under_their_json_keys(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    refused_call(h, op)
    (request,) = h.requests
    body = json.loads(request.content)
    if op.array_body is not None:
        # the body is the items themselves, each with its dedup key filled in when the service needs one
        (items,) = valid_arguments(op).values()
        assert len(body) == len(items)
        assert [{key: item[key] for key in given} for item, given in zip(body, items, strict=True)] == items
        if op.dedup == "body_key":
            assert all(uuid.UUID(item[BODY_KEY]).version == 4 for item in body)
        return
    keys = {param.name: param.key for param in op.params}
    for name, value in valid_arguments(op).items():
        assert body[keys[name]] == value


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_each_call_sends_a_fresh_uuid4_idempotency_key(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    refused_call(h, op)
    refused_call(h, op)
    first, second = (request.headers["idempotency-key"] for request in h.requests)
    assert uuid.UUID(first).version == 4
    assert first != second


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_retry_resends_the_same_idempotency_key(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(json_response(retried_status(op), {}), REFUSED))
    refused_call(h, op)
    keys = {request.headers["idempotency-key"] for request in h.requests}
    assert len(h.requests) == 2
    assert len(keys) == 1


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_5xx_is_retried_unless_the_write_may_have_been_counted(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(json_response(503, {}), REFUSED))
    if never_resent_once_it_may_have_arrived(op):
        with pytest.raises(errors.WriteOutcomeUnknownError) as caught:
            h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op))
        assert caught.value.operation == op.operation_id
        assert caught.value.idempotency_key == h.requests[0].headers["idempotency-key"]
        assert len(h.requests) == 1
    else:
        refused_call(h, op)
        assert len(h.requests) == 2


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_callers_idempotency_key_is_sent(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    refused_call(h, op, idempotency_key="order-42")
    (request,) = h.requests
    assert request.headers["idempotency-key"] == "order-42"


PARAMS = [(op, param.name) for op in OPERATIONS for param in op.params]


@pytest.mark.parametrize(("op", "name"), PARAMS, ids=[f"{op.operation_id}-{name}" for op, name in PARAMS])
def test_a_value_of_the_wrong_type_is_refused_naming_its_argument_before_any_io(
    make: Make, op: Operation[Any], name: str
) -> None:
    h = make(sequence(REFUSED))
    arguments = {**valid_arguments(op), name: object()}
    with pytest.raises(errors.RequestValidationError) as caught:
        h.call(f"{op.resource}.{op.method_name}", **arguments)
    assert caught.value.param == name
    assert h.requests == []


@pytest.mark.parametrize(("op", "name"), [(op, p.name) for op in OPERATIONS for p in op.params if p.required])
def test_a_missing_required_argument_is_refused_naming_it_before_any_io(
    make: Make, op: Operation[Any], name: str
) -> None:
    h = make(sequence(REFUSED))
    arguments = {**valid_arguments(op), name: None}
    with pytest.raises(errors.RequestValidationError) as caught:
        h.call(f"{op.resource}.{op.method_name}", **arguments)
    assert caught.value.param == name
    assert h.requests == []


EXCLUSIVE = [op for op in OPERATIONS if op.exactly_one_of]


@pytest.mark.parametrize("op", EXCLUSIVE, ids=[op.operation_id for op in EXCLUSIVE])
def test_an_exactly_one_of_group_given_none_or_two_is_refused_before_any_io(
    make: Make, op: Operation[Any]
) -> None:
    h = make(sequence(REFUSED))
    first, second, *_ = op.exactly_one_of
    given = valid_arguments(op)
    for arguments, named in (
        ({**given, first: None}, first),
        ({**given, second: given[first]}, second),
    ):
        with pytest.raises(errors.RequestValidationError) as caught:
            h.call(f"{op.resource}.{op.method_name}", **arguments)
        assert caught.value.param == named
        assert "give exactly one of" in str(caught.value)
    assert h.requests == []


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_with_raw_response_gives_the_http_response_without_parsing_it(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(httpx.Response(200, content=b"not json", headers={"x-request-id": "req_1"})))
    raw = h.call(f"{op.resource}.with_raw_response.{op.method_name}", **valid_arguments(op))
    assert raw.status_code == 200
    assert raw.request_id == "req_1"
    assert raw.http_response.request.url.path == op.path
    with pytest.raises(errors.ResponseValidationError):
        raw.parse()


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_optional_arguments_left_at_none_are_omitted_not_sent_as_null(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    given = valid_arguments(op)
    optional = {param.name: None for param in op.params if param.name not in given}
    with pytest.raises(errors.BadRequestError):
        h.call(f"{op.resource}.{op.method_name}", **given, **optional)
    (request,) = h.requests
    body = json.loads(request.content)
    if op.array_body is not None:  # no optional argument: the items are the body
        assert isinstance(body, list)
        return
    keys = {param.key for param in op.params if param.name in given}
    assert set(body) == keys


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_per_call_server_url_overrides_the_clients(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED), server_url="https://eu.meterly.dev/")
    refused_call(h, op)
    refused_call(h, op, server_url="http://127.0.0.1:8787")
    assert [str(r.url) for r in h.requests] == [
        "https://eu.meterly.dev" + op.path,
        "http://127.0.0.1:8787" + op.path,
    ]


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_server_url_per_resource_applies_to_its_operations(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED), server_urls={op.resource: "http://127.0.0.1:8788"})
    refused_call(h, op)
    (request,) = h.requests
    assert str(request.url) == "http://127.0.0.1:8788" + op.path


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.version_header], ids=lambda op: op.operation_id)
def test_an_api_version_per_resource_replaces_the_declared_one(make: Make, op: Operation[Any]) -> None:
    assert op.version_header is not None
    h = make(sequence(REFUSED), api_versions={op.resource: "9.9"})
    refused_call(h, op)
    (request,) = h.requests
    assert request.headers[op.version_header.name] == "9.9"


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_http_headers_add_and_replace_headers_for_one_call(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    refused_call(h, op, http_headers={"X-Trace": "abc", "Accept": "application/vnd.meterly+json"})
    refused_call(h, op)
    first, second = h.requests
    assert (first.headers["x-trace"], first.headers["accept"]) == ("abc", "application/vnd.meterly+json")
    assert "x-trace" not in second.headers


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_per_call_timeout_ms_sets_the_attempt_timeout(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED), timeout_ms=2500)
    refused_call(h, op, timeout_ms=300)
    (request,) = h.requests
    assert request.extensions["timeout"] == {"connect": 0.3, "read": 0.3, "write": 0.3, "pool": 0.3}


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_an_error_status_is_its_typed_error_naming_the_operation(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(json_response(404, {"message": "no such customer", "code": "customer_not_found"})))
    with pytest.raises(errors.NotFoundError) as caught:
        h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op))
    assert str(caught.value).startswith(f"{op.operation_id}: no such customer")
    assert caught.value.code == "customer_not_found"


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_success_body_that_does_not_fit_is_a_response_validation_error(
    make: Make, op: Operation[Any]
) -> None:
    h = make(sequence(json_response(200, ["not", "an", "object"])))
    with pytest.raises(errors.ResponseValidationError) as caught:
        h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op))
    assert str(caught.value).startswith(f"{op.operation_id}: the 200 response does not fit")


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_hooks_see_the_operation_id_of_each_attempt(make: Make, op: Operation[Any]) -> None:
    seen: list[str] = []

    class Recorder:
        def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
            seen.append(ctx.operation_id)
            return request

    h = make(sequence(json_response(retried_status(op), {}), REFUSED), hooks=[Recorder()])
    refused_call(h, op)
    assert seen == [op.operation_id, op.operation_id]


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.fallback], ids=lambda op: op.operation_id)
def test_an_operation_with_a_fallback_is_answered_by_fail_open_when_the_service_is_down(
    make: Make, op: Operation[Any]
) -> None:
    h = make(sequence(json_response(503, {})), fail_open=True, retry_config=None)
    answer = h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op))
    assert isinstance(answer, op.response_model)
    assert answer.is_fallback


@pytest.mark.parametrize("op", [op for op in OPERATIONS if not op.fallback], ids=lambda op: op.operation_id)
def test_an_operation_without_a_fallback_raises_under_fail_open(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(json_response(503, {})), fail_open=True, retry_config=None)
    # a 5xx to a write its service does not deduplicate may have recorded it: that is what is raised
    may_have_counted = never_resent_once_it_may_have_arrived(op)
    expected = errors.WriteOutcomeUnknownError if may_have_counted else errors.InternalServerError
    with pytest.raises(expected) as caught:
        h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op))
    assert caught.value.status_code == 503
    assert len(h.requests) == 1


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_debug_logger_gets_one_line_per_attempt_naming_the_operations_url(
    make: Make, op: Operation[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.meterly.every_operation")
    logger = logging.getLogger("tests.meterly.every_operation")
    h = make(sequence(json_response(retried_status(op), {}), REFUSED), debug_logger=logger)
    refused_call(h, op)
    lines = [record.getMessage() for record in caplog.records if record.name == logger.name]
    assert [line.split(" status=")[0] for line in lines] == [
        f"{op.method} {BASE}{op.path} attempt=1",
        f"{op.method} {BASE}{op.path} attempt=2",
    ]


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_key_never_reaches_the_log_or_the_error(
    make: Make, op: Operation[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = make(
        sequence(json_response(401, {"message": "bad key"})), debug_logger=logging.getLogger("tests.key")
    )
    with pytest.raises(errors.AuthenticationError) as caught:
        h.call(f"{op.resource}.{op.method_name}", **valid_arguments(op))
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(caught.value)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value.raw_response.request.headers)


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_raw_call_retries_before_giving_the_final_response(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(json_response(retried_status(op), {}), httpx.Response(200, content=b"{}")))
    raw = h.call(f"{op.resource}.with_raw_response.{op.method_name}", **valid_arguments(op))
    assert raw.status_code == 200
    assert len(h.requests) == 2


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_a_raw_call_still_raises_on_an_error_status(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(REFUSED))
    with pytest.raises(errors.BadRequestError):
        h.call(f"{op.resource}.with_raw_response.{op.method_name}", **valid_arguments(op))


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.fallback], ids=lambda op: op.operation_id)
def test_a_raw_call_is_never_answered_by_fail_open(make: Make, op: Operation[Any]) -> None:
    h = make(sequence(json_response(503, {})), fail_open=True, retry_config=None)
    with pytest.raises(errors.InternalServerError):
        h.call(f"{op.resource}.with_raw_response.{op.method_name}", **valid_arguments(op))
