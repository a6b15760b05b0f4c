"""`balances.track_tokens` (Autumn): its declaration against its models, and the write rule it states."""

from __future__ import annotations

from meterly import models
from meterly._declaration import BEARER_AUTH
from meterly._endpoints._services import AUTUMN_RECORDING_VERSION
from meterly._endpoints.balances_track_tokens import BALANCES_TRACK_TOKENS as OP


def test_it_posts_to_autumns_path_with_bearer_auth_and_the_published_specs_version() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/balances.track_tokens",
        BEARER_AUTH,
        AUTUMN_RECORDING_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == (
        "balances",
        "track_tokens",
        "balancesTrackTokens",
    )


def test_it_always_writes_is_not_deduplicated_and_never_fails_open() -> None:
    assert OP.writes is True
    assert OP.dedup == "none"
    assert OP.fallback is None


def test_it_answers_like_track() -> None:
    assert OP.envelope is None
    assert OP.request_model is models.TrackTokensRequest
    assert OP.response_model is models.TrackResponse


def test_the_model_and_the_token_counts_are_required() -> None:
    required = {param.name for param in OP.params if param.required}
    assert required == {"customer_id", "model_id", "input_tokens", "output_tokens"}
    assert OP.exactly_one_of == ()


def test_each_echo_is_a_request_parameter_and_an_answer_field() -> None:
    # `value` is not echoed: the answer's value is the credits the tokens cost, not anything sent
    assert OP.echoes == (("customer_id", "customer_id"), ("entity_id", "entity_id"))
    names = {param.name for param in OP.params}
    for param, attribute in OP.echoes:
        assert param in names
        assert attribute in models.TrackResponse.model_fields
    assert "value" not in names


def test_an_answer_shaped_as_autumn_sends_it_echoes_the_customer() -> None:
    answer = OP.parse(b'{"customer_id": "cus_pro", "value": 0.0042, "balance": null}')
    assert (answer.customer_id, answer.value) == ("cus_pro", 0.0042)


def test_every_argument_doc_names_a_parameter() -> None:
    assert set(OP.arg_docs) <= {param.name for param in OP.params}
