"""`usage.track`: record what a customer consumed (Commet)."""

from __future__ import annotations

from meterly import models
from meterly._declaration import API_KEY_AUTH, Operation
from meterly._endpoints._services import COMMET_VERSION

USAGE_TRACK: Operation[models.UsageEvent] = Operation(
    operation_id="usageTrack",
    sdk_call="usage.track",
    path="/v1/usage/events",
    security=API_KEY_AUTH,
    request=lambda: models.UsageTrackRequest,
    response=lambda: models.UsageEvent,
    envelope=lambda: models.UsageTrackResponse,
    writes=True,  # no fallback: a failure to record usage is never hidden by a made-up answer
    dedup="header",
    echoes=(("customer_id", "customer_id"), ("feature_code", "feature_code"), ("event_id", "event_id")),
    version_header=COMMET_VERSION,
    doc="""Record that the customer consumed `value` of the feature; credits or a balance are drawn on.

`POST /v1/usage/events` with `x-api-key: <key>`; returns the `data` of the envelope. A write: it
is never answered by `fail_open`, and its retries send the same `Idempotency-Key`, so the event
is recorded once.

Returns:
    The event as recorded, with what it drew from credits or a balance (`consumption`).""",
    arg_docs={
        "feature_code": "The feature, e.g. `api_calls`.",
        "value": "How much was consumed (default 1).",
        "timestamp": "When it happened: a `datetime` or ISO 8601 text (default: when it arrives).",
        "properties": "Names and values (str) to attach to the event.",
    },
)
