"""Each service's HTTP contract: Autumn's flat errors, Commet's envelope and validation details."""

from __future__ import annotations

import pytest

from meterly import Meterly, errors
from meterly.sandbox import SandboxEngine

from .conftest import CHECK, USAGE, post


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


def test_a_usage_check_without_quantity_asks_for_one_unit_as_commets_client_expects(
    engine: SandboxEngine,
) -> None:
    answer = post(engine, USAGE, None, raw=b'{"customerId": "cus_basic", "featureCode": "messages"}')
    assert answer.status == 200
    assert answer.json()["data"]["quantity"] == 1


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
