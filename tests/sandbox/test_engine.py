"""The engine's HTTP front: auth, routing, request ids, history, and answers the SDK models accept."""

from __future__ import annotations

import httpx
import pytest

from meterly import Meterly, errors, models
from meterly._registry import OPERATIONS
from meterly.sandbox import DEFAULT_API_KEY, SandboxEngine, SandboxTransport

from .conftest import CHECK, USAGE, post

CHECK_BODY = {"customer_id": "cus_basic", "feature_id": "messages", "send_event": True}
USAGE_BODY = {"customerId": "cus_basic", "featureCode": "messages", "quantity": 1}


def test_balances_check_bodies_validate_with_the_sdk_model(engine: SandboxEngine) -> None:
    bodies = [
        {"customer_id": "cus_pro", "feature_id": "messages"},
        {"customer_id": "cus_pro", "feature_id": "api_calls", "required_balance": 12.5, "send_event": True},
        {"customer_id": "cus_pro", "feature_id": "sso"},
        {"customer_id": "cus_basic", "feature_id": "sso", "with_preview": True},
        {"customer_id": "cus_team", "feature_id": "messages", "entity_id": "seat_a"},
        {"customer_id": "cus_pro", "feature_id": "image", "required_balance": 100, "with_preview": True},
    ]
    for body in bodies:
        answer = post(engine, CHECK, body)
        assert answer.status == 200, answer.body
        model = models.CheckResponse.model_validate(answer.json())
        assert model.customer_id == body["customer_id"]


def test_usage_check_bodies_validate_with_the_sdk_model(engine: SandboxEngine) -> None:
    for customer, feature in [("cus_pro", "api_calls"), ("cus_pro", "image"), ("cus_wallet", "sms"),
                              ("cus_basic", "sso"), ("cus_basic", "api_calls")]:  # fmt: skip
        answer = post(engine, USAGE, {"customerId": customer, "featureCode": feature, "quantity": 2})
        assert answer.status == 200, answer.body
        envelope = models.UsageCheckResponse.model_validate(answer.json())
        assert envelope.success is True
        assert envelope.data.feature_code == feature


@pytest.mark.parametrize("path", [CHECK, USAGE])
def test_an_unknown_or_missing_key_is_401(engine: SandboxEngine, path: str) -> None:
    body = CHECK_BODY if path == CHECK else USAGE_BODY
    assert post(engine, path, body, key="sk_test_wrong").status == 401
    assert post(engine, path, body, key=None).status == 401
    assert b"sk_test_wrong" not in post(engine, path, body, key="sk_test_wrong").body


def test_each_operation_accepts_only_its_own_auth_scheme(engine: SandboxEngine) -> None:
    bearer_on_usage = engine.handle("POST", USAGE, {"authorization": "Bearer sk_test_sandbox"}, b"{}")
    api_key_on_check = engine.handle("POST", CHECK, {"x-api-key": "sk_test_sandbox"}, b"{}")
    assert (bearer_on_usage.status, api_key_on_check.status) == (401, 401)


def test_sdk_raises_authentication_error_for_an_unknown_key(engine: SandboxEngine) -> None:
    import httpx

    from meterly.sandbox import SandboxTransport

    with Meterly(api_key="sk_test_nope", client=httpx.Client(transport=SandboxTransport(engine))) as sdk:
        with pytest.raises(errors.AuthenticationError):
            sdk.balances.check(customer_id="cus_basic", feature_id="messages")
        with pytest.raises(errors.AuthenticationError):
            sdk.usage.check(customer_id="cus_basic", feature_code="messages")


def test_added_api_keys_are_accepted(engine: SandboxEngine) -> None:
    engine.add_api_key("sk_test_second")
    assert post(engine, CHECK, CHECK_BODY, key="sk_test_second").status == 200


def test_bad_sdk_arguments_never_reach_the_sandbox(client: Meterly, engine: SandboxEngine) -> None:
    with pytest.raises(errors.RequestValidationError):
        client.usage.check(customer_id="cus_basic", feature_code="messages", quantity=0)
    assert not engine.history


def test_other_methods_are_405_and_other_paths_404(engine: SandboxEngine) -> None:
    get = post(engine, CHECK, CHECK_BODY, method="GET")
    assert (get.status, get.headers["allow"]) == (405, "POST")
    nothing = post(engine, "/v1/nothing", {})
    assert (nothing.status, nothing.json()["code"]) == (404, "route_not_found")


def test_an_operation_the_sandbox_does_not_answer_is_a_clear_404(
    engine: SandboxEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(engine.handlers, "usageCheck")
    answer = post(engine, USAGE, USAGE_BODY)
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "route_not_found"  # in the operation's own error shape
    assert engine.balance("cus_basic", "messages")["usage"] == 0  # type: ignore[index]


def test_auth_follows_each_operation_s_security_scheme(engine: SandboxEngine) -> None:
    for op in OPERATIONS:
        answer = post(engine, op.path, {}, key=None)
        assert answer.status == 401
        assert (op.security.header in answer.body.decode().lower()) is True


def test_an_unknown_route_is_route_not_found_and_the_sdk_names_the_url(engine: SandboxEngine) -> None:
    answer = post(engine, "/v1/v1/balances.check", {"customer_id": "cus_basic", "feature_id": "messages"})
    assert (answer.status, answer.json()["code"]) == (404, "route_not_found")
    http = httpx.Client(transport=SandboxTransport(engine))
    client = Meterly(api_key=DEFAULT_API_KEY, client=http, server_url="http://127.0.0.1:1/v1")
    with http, client, pytest.raises(errors.NotFoundError) as info:
        client.balances.check(customer_id="cus_basic", feature_id="messages")
    assert info.value.code == "route_not_found"
    assert "route not found: POST http://127.0.0.1:1/v1/v1/balances.check answered 404" in info.value.message


def test_a_wrong_route_is_route_not_found_even_during_an_outage(engine: SandboxEngine) -> None:
    engine.faults.outage = True
    wrong = post(engine, "/v1/v1/balances.check", {"customer_id": "cus_basic", "feature_id": "messages"})
    assert (wrong.status, wrong.json()["code"]) == (404, "route_not_found")
    assert post(engine, CHECK, CHECK_BODY).status == 503  # the right route still sees the outage


def test_every_answer_carries_a_request_id(engine: SandboxEngine) -> None:
    answers = [
        post(engine, CHECK, CHECK_BODY),
        post(engine, USAGE, USAGE_BODY),
        post(engine, CHECK, CHECK_BODY, key=None),
        post(engine, CHECK, None, raw=b"{"),
        post(engine, USAGE, {**USAGE_BODY, "customerId": "nobody"}),
        post(engine, CHECK, CHECK_BODY, method="PUT"),
        post(engine, "/v1/nothing", {}),
    ]
    engine.faults.outage = True
    answers.append(post(engine, CHECK, CHECK_BODY))
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(i.startswith("req_") for i in ids)
    assert len(set(ids)) == len(ids)


def test_sdk_errors_carry_the_request_id(client: Meterly) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        client.balances.check(customer_id="cus_nobody", feature_id="messages")
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_sbx_")


def test_history_records_calls_without_keys(client: Meterly, engine: SandboxEngine) -> None:
    client.balances.check(customer_id="cus_basic", feature_id="messages", idempotency_key="h1")
    (call,) = engine.history
    assert (call.operation_id, call.status, call.idempotency_key) == ("balancesCheck", 200, "h1")
    assert call.body == {"customer_id": "cus_basic", "feature_id": "messages"}
    assert "sk_test_sandbox" not in repr(call)
