"""`balances.track` (Autumn): its declaration against its models, and the write rule it states."""

from __future__ import annotations

import pytest

from meterly import errors, models
from meterly._declaration import BEARER_AUTH
from meterly._endpoints._services import AUTUMN_RECORDING_VERSION
from meterly._endpoints.balances_track import BALANCES_TRACK as OP


def test_it_posts_to_autumns_path_with_bearer_auth_and_the_published_specs_version() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/balances.track",
        BEARER_AUTH,
        AUTUMN_RECORDING_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == ("balances", "track", "balancesTrack")


def test_it_always_writes_is_not_deduplicated_and_never_fails_open() -> None:
    assert OP.writes is True
    assert OP.writes_with({})
    assert OP.dedup == "none"  # Autumn takes no idempotency key on a single track
    assert OP.fallback is None
    assert OP.allowed is None


def test_the_answer_is_the_whole_body_of_its_models() -> None:
    assert OP.envelope is None
    assert OP.request_model is models.TrackRequest
    assert OP.response_model is models.TrackResponse
    assert OP.array_body is None


def test_each_echo_is_a_request_parameter_and_an_answer_field() -> None:
    assert OP.echoes == (
        ("customer_id", "customer_id"),
        ("entity_id", "entity_id"),
        ("event_name", "event_name"),
    )
    names = {param.name for param in OP.params}
    for param, attribute in OP.echoes:
        assert param in names
        assert attribute in models.TrackResponse.model_fields


def test_an_answer_shaped_as_autumn_sends_it_echoes_the_request() -> None:
    answer = OP.parse(
        b'{"customer_id": "cus_pro", "value": 3, "balance": null, "entity_id": "seat_1", "event_name": "msg"}'
    )
    assert (answer.customer_id, answer.entity_id, answer.event_name) == ("cus_pro", "seat_1", "msg")
    assert answer.balance is None


def test_exactly_one_of_feature_id_and_event_name_each_a_parameter() -> None:
    assert OP.exactly_one_of == ("feature_id", "event_name")
    params = {param.name: param for param in OP.params}
    assert all(not params[name].required for name in OP.exactly_one_of)
    assert params["customer_id"].required


def test_async_is_the_wires_async_key() -> None:
    assert {param.name: param.key for param in OP.params}["async_"] == "async"


def test_a_negative_value_is_accepted_to_give_usage_back() -> None:
    (value,) = (param for param in OP.params if param.name == "value")
    assert value.check("value", -2) == -2
    with pytest.raises(errors.RequestValidationError):
        value.check("value", "two")


def test_every_argument_doc_names_a_parameter() -> None:
    assert set(OP.arg_docs) <= {param.name for param in OP.params}
