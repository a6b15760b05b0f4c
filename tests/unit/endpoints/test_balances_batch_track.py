"""`balances.batch_track` (Autumn): an array body of track events, each deduplicated by its own key."""

from __future__ import annotations

import pytest

from meterly import errors, models
from meterly._declaration import BEARER_AUTH, BODY_KEY, ArrayBody
from meterly._endpoints._services import AUTUMN_BATCH_VERSION
from meterly._endpoints.balances_batch_track import BALANCES_BATCH_TRACK as OP


def test_it_posts_to_autumns_path_with_bearer_auth_and_the_version_with_item_keys() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/balances.batch_track",
        BEARER_AUTH,
        AUTUMN_BATCH_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == ("balances", "batch_track", "balancesBatchTrack")


def test_the_body_is_an_array_of_1_to_1000_track_events_taken_as_events() -> None:
    assert OP.array_body == ArrayBody("events", 1, 1_000)
    assert OP.request_model is models.TrackEvent
    (param,) = OP.params
    assert (param.name, param.key, param.required) == ("events", "events", True)


def test_each_item_is_deduplicated_by_its_own_key_a_field_of_the_event() -> None:
    assert OP.writes is True
    assert OP.dedup == "body_key"
    assert BODY_KEY in models.TrackEvent.model_fields
    assert OP.fallback is None


def test_the_answer_names_nothing_of_the_request_so_nothing_is_echoed() -> None:
    assert OP.echoes == ()
    assert set(models.BatchTrackResponse.model_fields) == {"success"}
    assert OP.parse(b'{"success": true}').success is True


def test_the_items_check_takes_models_or_dicts_and_sends_only_what_was_given() -> None:
    (param,) = OP.params
    sent = param.check(
        "events",
        [
            models.TrackEvent(customer_id="cus_1", feature_id="messages"),
            {"customer_id": "cus_2", "event_name": "e"},
        ],
    )
    assert sent == [
        {"customer_id": "cus_1", "feature_id": "messages"},
        {"customer_id": "cus_2", "event_name": "e"},
    ]


@pytest.mark.parametrize(
    ("events", "where"),
    [
        ([], "events"),
        ([{"customer_id": "cus_1"}], "events[0]"),
        ([{"customer_id": "cus_1", "feature_id": "a", "event_name": "b"}], "events[0]"),
        ([{"customer_id": "cus_1", "feature_id": "a"}] * 1_001, "events"),
        ("not a list", "events"),
    ],
)
def test_a_bad_batch_is_refused_naming_the_argument(events: object, where: str) -> None:
    (param,) = OP.params
    with pytest.raises(errors.RequestValidationError) as caught:
        param.check("events", events)
    assert caught.value.param == "events"
    assert str(caught.value).startswith(where)
