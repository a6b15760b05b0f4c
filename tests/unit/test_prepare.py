"""Preparing a call (`meterly._prepare`): every check before any I/O, and what the call carries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from meterly import errors, models
from meterly._options import CallOptions
from meterly._prepare import EncodedArray, Preparer, checked_headers
from meterly.balances import BALANCES_CHECK
from meterly.usage import USAGE_CHECK
from meterly.utils.retries import RetryConfig
from tests.conftest import API_KEY

from .fakes import config, prepare


def args_of(**given: Any) -> dict[str, Any]:
    args: dict[str, Any] = {param.name: None for param in BALANCES_CHECK.params}
    args.update(customer_id="cus_123", feature_id="messages", **given)
    return args


def test_the_body_holds_only_the_arguments_given_under_their_json_keys() -> None:
    call = prepare(USAGE_CHECK, customer_id="cus_1", feature_code="api_calls", quantity=2)
    assert json.loads(call.body) == {"customerId": "cus_1", "featureCode": "api_calls", "quantity": 2}


def test_the_key_goes_in_the_operations_security_header() -> None:
    assert prepare().headers["authorization"] == f"Bearer {API_KEY}"
    usage = prepare(USAGE_CHECK, customer_id="c", feature_code="f", quantity=1)
    assert usage.headers["x-api-key"] == API_KEY


def test_a_missing_required_argument_is_a_request_validation_error_naming_it() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        prepare(customer_id=None)
    assert caught.value.param == "customer_id"


def test_each_call_gets_a_fresh_idempotency_key_unless_it_gives_one() -> None:
    assert prepare().headers["idempotency-key"] != prepare().headers["idempotency-key"]
    given = prepare(options=CallOptions(idempotency_key="order-42"))
    assert given.headers["idempotency-key"] == "order-42"


@pytest.mark.parametrize("key", ["", "x" * 256, "line\nbreak", "clé"])
def test_a_bad_idempotency_key_is_refused(key: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        prepare(options=CallOptions(idempotency_key=key))
    assert caught.value.param == "idempotency_key"


def test_the_version_header_pins_the_operations_api_version() -> None:
    assert prepare().headers["x-api-version"] == "2.1"


def test_http_headers_add_to_the_call_with_lower_case_names() -> None:
    call = prepare(options=CallOptions(http_headers={"X-Trace": "abc"}))
    assert call.headers["x-trace"] == "abc"


@pytest.mark.parametrize("headers", [{"bad name": "v"}, {"x-ok": "new\nline"}, {"": "v"}])
def test_a_header_that_cannot_be_sent_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        checked_headers(headers)
    assert caught.value.param == "http_headers"


def test_call_options_override_the_clients_server_timeout_and_retries() -> None:
    never = None
    options = CallOptions(server_url="https://other.example", timeout_ms=250, retries=never)
    call = prepare(options=options)
    assert str(call.url) == "https://other.example/v1/balances.check"
    assert call.timeout == httpx.Timeout(0.25)
    assert call.retry_config is None


def test_the_clients_retry_policy_applies_when_the_call_names_none() -> None:
    policy = RetryConfig(max_retries=1)
    call = Preparer(config(retry_config=policy)).prepare(BALANCES_CHECK, args_of(), options=CallOptions())
    assert call.retry_config is policy


def test_retries_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        prepare(options=CallOptions(retries=3))  # type: ignore[arg-type]
    assert caught.value.param == "retries"


def test_a_missing_key_names_the_argument_and_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERLY_API_KEY", raising=False)
    preparer = Preparer(config(api_key=None))
    with pytest.raises(errors.RequestValidationError) as caught:
        preparer.prepare(BALANCES_CHECK, args_of(), options=CallOptions())
    assert caught.value.param == "api_key"
    assert "METERLY_API_KEY" in str(caught.value)


def test_security_supplies_the_key_of_its_scheme() -> None:
    security = models.Security(bearer_auth="sk_bearer")
    preparer = Preparer(config(api_key=None, security=security))
    call = preparer.prepare(BALANCES_CHECK, args_of(), options=CallOptions())
    assert call.headers["authorization"] == "Bearer sk_bearer"


def test_a_plain_http_server_off_this_machine_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    preparer = Preparer(config(server_url="http://billing.internal"))
    for _ in range(2):
        preparer.prepare(BALANCES_CHECK, args_of(), options=CallOptions())
    warnings = [record for record in caplog.records if "plain http" in record.getMessage()]
    assert len(warnings) == 1
    assert "billing.internal" in warnings[0].getMessage()


def test_an_encoded_array_goes_as_it_is_neither_checked_nor_encoded_again() -> None:
    from meterly._registry import BY_ID

    batch_track = BY_ID["balancesBatchTrack"]
    content = EncodedArray(b'[{"customer_id":"cus_1","feature_id":"m","idempotency_key":"k-1"}]')
    assert prepare(batch_track, events=content).body is content
    # The same item as a dict is checked and encoded (and keeps its key).
    checked = prepare(
        batch_track, events=[{"customer_id": "cus_1", "feature_id": "m", "idempotency_key": "k-1"}]
    )
    assert json.loads(checked.body)[0]["idempotency_key"] == "k-1"
    with pytest.raises(errors.RequestValidationError):
        prepare(batch_track, events=[{"customer_id": "", "feature_id": "m"}])
