"""`balances.batch_track`: record up to 1,000 usage events in one request (Autumn)."""

from __future__ import annotations

from meterly import models
from meterly._declaration import BEARER_AUTH, ArrayBody, Operation
from meterly._endpoints._services import AUTUMN_BATCH_VERSION

BALANCES_BATCH_TRACK: Operation[models.BatchTrackResponse] = Operation(
    operation_id="balancesBatchTrack",
    sdk_call="balances.batch_track",
    path="/v1/balances.batch_track",
    security=BEARER_AUTH,
    request=lambda: models.TrackEvent,
    response=lambda: models.BatchTrackResponse,
    array_body=ArrayBody("events", 1, 1_000),
    writes=True,
    dedup="body_key",  # each event's idempotency_key, filled in by the SDK when the caller gives none
    version_header=AUTUMN_BATCH_VERSION,
    doc="""Queue up to 1,000 usage events in one request; the service records them shortly after.

`POST /v1/balances.batch_track` with `Authorization: Bearer <key>`. Each event carries an
`idempotency_key` (yours, or a fresh one the SDK fills in before the first attempt), and the
service ignores a key it saw in the last 24 hours: a resent batch counts each event once, so
it is retried like a read.

Returns:
    `success`: the batch was queued (202); the answer carries no balances.""",
    arg_docs={
        "events": "1 to 1,000 events (`models.TrackEvent` or dicts of its fields), each with exactly one "
        "of `feature_id` and `event_name`.",
    },
)
