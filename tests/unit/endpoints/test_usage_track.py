"""`usage.track` (Commet): a write, never made up under fail-open, deduplicated by its key."""

from __future__ import annotations

from meterly import models
from meterly._declaration import API_KEY_AUTH
from meterly._endpoints._services import COMMET_VERSION
from meterly._endpoints.usage_track import USAGE_TRACK as OP


def test_it_posts_to_commets_events_path_with_the_api_key_header_and_commets_version() -> None:
    assert (OP.method, OP.path, OP.security, OP.version_header) == (
        "POST",
        "/v1/usage/events",
        API_KEY_AUTH,
        COMMET_VERSION,
    )
    assert (OP.resource, OP.method_name, OP.operation_id) == ("usage", "track", "usageTrack")


def test_it_always_writes_and_has_no_fallback() -> None:
    assert OP.writes_with({})
    assert OP.fallback is None
    assert OP.allowed is None


def test_the_service_dedups_a_resent_event_by_its_idempotency_key() -> None:
    assert OP.dedup == "header"


def test_the_answer_is_the_recorded_event_inside_an_envelope() -> None:
    assert OP.envelope is not None
    assert OP.response_model is models.UsageEvent
    assert OP.request_model is models.UsageTrackRequest
