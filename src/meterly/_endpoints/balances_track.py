"""`balances.track`: record usage after the action, when its amount is known only then (Autumn)."""

from __future__ import annotations

from meterly import models
from meterly._declaration import BEARER_AUTH, Operation
from meterly._endpoints._services import AUTUMN_RECORDING_VERSION

BALANCES_TRACK: Operation[models.TrackResponse] = Operation(
    operation_id="balancesTrack",
    sdk_call="balances.track",
    path="/v1/balances.track",
    security=BEARER_AUTH,
    request=lambda: models.TrackRequest,
    response=lambda: models.TrackResponse,
    writes=True,  # no fallback: a failure to record usage is never hidden by a made-up answer
    dedup="none",
    echoes=(("customer_id", "customer_id"), ("entity_id", "entity_id"), ("event_name", "event_name")),
    exactly_one_of=("feature_id", "event_name"),
    version_header=AUTUMN_RECORDING_VERSION,
    doc="""Record that the customer used `value` of a feature (or of the features an event maps to).

`POST /v1/balances.track` with `Authorization: Bearer <key>`. Check first, act, then track the
amount once it is known (tokens streamed, rows exported). Autumn does not deduplicate it: when
the answer is lost after the request may have arrived, the SDK raises
`errors.WriteOutcomeUnknownError` instead of sending it again.

Returns:
    What was recorded and the `balance` after it; with `async_=True` the service answers 202
    before recording, and `balance` is None.""",
    arg_docs={
        "customer_id": "The customer who used the feature.",
        "feature_id": "The feature used, e.g. `messages`. Give exactly one of `feature_id` and `event_name`.",
        "event_name": "An event the service maps to one or more features, each of which is deducted.",
        "value": "How much was used (the service's default is 1); negative gives usage back, e.g. a "
        "removed seat.",
        "timestamp": "When the usage happened: a `datetime` (a naive one is local time) or Unix "
        "milliseconds (default: when it arrives).",
        "async_": "Queue the usage instead of recording it before answering (the wire's `async`).",
    },
)
