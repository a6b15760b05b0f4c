"""The HTTP contract: auth, errors in each operation's shape, idempotency, request ids, model conformance."""

from __future__ import annotations

import httpx
import pytest

from meterly import Meterly, errors, models
from meterly._operations import OPERATIONS
from meterly.sandbox import DEFAULT_API_KEY, SandboxEngine, SandboxTransport
from meterly.sandbox._routes import ROUTES

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


def test_same_idempotency_key_and_body_returns_the_first_answer_and_deducts_once(
    engine: SandboxEngine,
) -> None:
    first = post(engine, CHECK, CHECK_BODY, idempotency_key="k1")
    again = post(engine, CHECK, CHECK_BODY, idempotency_key="k1")
    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_key_order_and_spacing_do_not_make_a_different_body(engine: SandboxEngine) -> None:
    post(engine, CHECK, None, idempotency_key="k", raw=b'{"customer_id":"cus_basic","feature_id":"messages"}')
    again = post(
        engine,
        CHECK,
        None,
        idempotency_key="k",
        raw=b'{ "feature_id": "messages", "customer_id": "cus_basic" }',
    )
    assert again.status == 200


def test_same_idempotency_key_with_a_different_body_is_a_409_in_each_shape(engine: SandboxEngine) -> None:
    post(engine, CHECK, CHECK_BODY, idempotency_key="k2")
    conflict = post(engine, CHECK, {**CHECK_BODY, "required_balance": 2}, idempotency_key="k2")
    assert conflict.status == 409
    assert conflict.json() == {
        "message": conflict.json()["message"],
        "code": "idempotency_key_reused",
        "env": "sandbox",
    }
    post(engine, USAGE, USAGE_BODY, idempotency_key="k3")
    enveloped = post(engine, USAGE, {**USAGE_BODY, "quantity": 2}, idempotency_key="k3")
    assert enveloped.status == 409
    assert enveloped.json()["success"] is False
    assert enveloped.json()["error"]["code"] == "idempotency_key_reused"
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]


def test_idempotency_keys_expire_after_a_day(engine: SandboxEngine) -> None:
    post(engine, CHECK, CHECK_BODY, idempotency_key="k4")
    engine.clock.advance(24 * 3600 + 1)
    assert post(engine, CHECK, {**CHECK_BODY, "required_balance": 2}, idempotency_key="k4").status == 200


def test_sdk_call_with_the_same_idempotency_key_is_answered_once(
    client: Meterly, engine: SandboxEngine
) -> None:
    for _ in range(3):
        client.balances.check(
            customer_id="cus_basic", feature_id="messages", send_event=True, idempotency_key="once"
        )
    assert engine.balance("cus_basic", "messages")["usage"] == 1  # type: ignore[index]
    with pytest.raises(errors.ConflictError) as caught:
        client.balances.check(customer_id="cus_basic", feature_id="api_calls", idempotency_key="once")
    assert caught.value.code == "idempotency_key_reused"


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


def test_unknown_customer_and_feature_are_404_in_the_flat_shape(client: Meterly) -> None:
    with pytest.raises(errors.NotFoundError) as customer:
        client.balances.check(customer_id="cus_nobody", feature_id="messages")
    assert customer.value.code == "customer_not_found"
    assert set(customer.value.raw_response.json()) == {"message", "code", "env"}
    with pytest.raises(errors.NotFoundError) as feature:
        client.balances.check(customer_id="cus_basic", feature_id="teleport")
    assert feature.value.code == "feature_not_found"
    with pytest.raises(errors.NotFoundError) as entity:
        client.balances.check(customer_id="cus_team", feature_id="messages", entity_id="seat_z")
    assert entity.value.code == "entity_not_found"


def test_unknown_customer_and_feature_are_404_in_the_envelope_shape(client: Meterly) -> None:
    with pytest.raises(errors.NotFoundError) as customer:
        client.usage.check(customer_id="cus_nobody", feature_code="messages")
    assert customer.value.code == "customer_not_found"
    body = customer.value.raw_response.json()
    assert body["success"] is False
    assert set(body["error"]) == {"type", "code", "message", "param", "details", "doc_url"}
    assert customer.value.param == "customerId"
    with pytest.raises(errors.NotFoundError) as feature:
        client.usage.check(customer_id="cus_basic", feature_code="teleport")
    assert feature.value.code == "feature_not_found"


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        (CHECK, b"{not json"),
        (CHECK, b"[1, 2]"),
        (CHECK, b'{"feature_id": "messages"}'),
        (CHECK, b'{"customer_id": "", "feature_id": "messages"}'),
        (CHECK, b'{"customer_id": "cus_basic", "feature_id": "messages", "required_balance": "3"}'),
        (CHECK, b'{"customer_id": "cus_basic", "feature_id": "messages", "send_event": 1}'),
        (CHECK, b'{"customer_id": "cus_basic", "feature_id": "messages", "entity_id": null}'),
        (CHECK, b'{"customer_id": "cus_basic", "feature_id": "messages", "required_balance": NaN}'),
        (USAGE, b""),
        (USAGE, b'{"customerId": "cus_basic", "featureCode": "messages"}'),
        (USAGE, b'{"customerId": "cus_basic", "featureCode": "messages", "quantity": 0}'),
        (USAGE, b'{"customerId": "cus_basic", "featureCode": "messages", "quantity": 1.5}'),
        (USAGE, b'{"customerId": "cus_basic", "featureCode": "messages", "quantity": true}'),
        (USAGE, b'{"customerId": 7, "featureCode": "messages", "quantity": 1}'),
    ],
)
def test_a_malformed_body_is_400(engine: SandboxEngine, path: str, raw: bytes) -> None:
    answer = post(engine, path, None, raw=raw)
    assert answer.status == 400
    if path == USAGE:
        error = answer.json()["error"]
        if error["code"] == "invalid_json":
            assert error["type"] == "invalid_request_error"
        else:  # Commet's shape of a failed validation: one {field, message} per problem
            assert (error["code"], error["type"]) == ("validation_error", "validation_error")
            assert error["details"] == [{"field": error["param"] or "body", "message": error["message"]}]
    else:
        assert set(answer.json()) == {"message", "code", "env"}
        assert answer.json()["code"] in ("invalid_json", "invalid_inputs")


def test_an_idempotency_key_longer_than_255_characters_is_400(engine: SandboxEngine) -> None:
    assert post(engine, CHECK, CHECK_BODY, idempotency_key="k" * 256).status == 400


def test_bad_sdk_arguments_never_reach_the_sandbox(client: Meterly, engine: SandboxEngine) -> None:
    with pytest.raises(errors.RequestValidationError):
        client.usage.check(customer_id="cus_basic", feature_code="messages", quantity=0)
    assert not engine.history


def test_other_methods_are_405_and_other_paths_404(engine: SandboxEngine) -> None:
    get = post(engine, CHECK, CHECK_BODY, method="GET")
    assert (get.status, get.headers["allow"]) == (405, "POST")
    nothing = post(engine, "/v1/nothing", {})
    assert (nothing.status, nothing.json()["code"]) == (404, "route_not_found")


def test_the_routes_are_the_registry_s_and_commet_s_also_under_api() -> None:
    expected = {op.path: op.operation_id for op in OPERATIONS}
    expected.update({"/api" + op.path: op.operation_id for op in OPERATIONS if op.envelope is not None})
    assert {path: op.operation_id for path, op in ROUTES.items()} == expected
    assert ROUTES["/api/v1/usage/check"].operation_id == "usageCheck"


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
