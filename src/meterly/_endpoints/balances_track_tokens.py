"""`balances.track_tokens`: record an AI model's token usage, priced per model (Autumn)."""

from __future__ import annotations

from meterly import models
from meterly._declaration import BEARER_AUTH, Operation
from meterly._endpoints._services import AUTUMN_RECORDING_VERSION

BALANCES_TRACK_TOKENS: Operation[models.TrackResponse] = Operation(
    operation_id="balancesTrackTokens",
    sdk_call="balances.track_tokens",
    path="/v1/balances.track_tokens",
    security=BEARER_AUTH,
    request=lambda: models.TrackTokensRequest,
    response=lambda: models.TrackResponse,
    writes=True,
    dedup="none",
    echoes=(("customer_id", "customer_id"), ("entity_id", "entity_id")),
    version_header=AUTUMN_RECORDING_VERSION,
    doc="""Record an AI model's token usage; the service prices it by model and deducts the credits.

`POST /v1/balances.track_tokens` with `Authorization: Bearer <key>`. Not deduplicated by
Autumn: a lost answer after the request may have arrived raises
`errors.WriteOutcomeUnknownError`, never a resend.

Returns:
    What was recorded (`value`: the credits) and the `balance` after it; None with `async_=True`.""",
    arg_docs={
        "model_id": "The model, as `provider/model`, e.g. `openai/gpt-4o-mini`.",
        "timestamp": "When the usage happened: a `datetime` (a naive one is local time) or Unix "
        "milliseconds.",
        "async_": "Queue the usage instead of recording it before answering (the wire's `async`).",
    },
)
