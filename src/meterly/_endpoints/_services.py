"""The version each service's operations pin: the header sent with every request, and its default."""

from __future__ import annotations

from meterly._declaration import VersionHeader

AUTUMN_API_VERSION = "2.1"
"""The `x-api-version` every balances operation sends unless the client overrides it: the Autumn API
version whose shapes the models follow (the seed pages; `flag`, `balances` and `Balance.feature` of later
versions are typed as optional fields)."""

AUTUMN_VERSION = VersionHeader("x-api-version", AUTUMN_API_VERSION)

AUTUMN_RECORDING_VERSION = VersionHeader("x-api-version", "2.3.0")
"""The pin of `balances.track`, `track_tokens` and `finalize`: the published Autumn spec (2.3.0) whose
request and answer shapes their models follow."""

AUTUMN_BATCH_VERSION = VersionHeader("x-api-version", "2.5.0")
"""The pin of `balances.batch_track`: 2.5.0 adds each event's `idempotency_key`, which makes a resent
batch count once."""

COMMET_API_VERSION = "2026-08-27"
"""The `Commet-Version` every usage operation sends unless the client overrides it: the dated version
that commet-sdk 9.7.0 pins, whose `UsageCheck` fields (`subscriptionStatus` among them) the models type."""

COMMET_VERSION = VersionHeader("commet-version", COMMET_API_VERSION)

RESOURCES = {
    "balances": (
        "`client.balances`: may this customer use this feature, and how much is left? Recording what it "
        "used, and reserving a balance before a long action.",
        "Balance checks, usage recording and reservations",
    ),
    "usage": (
        "`client.usage`: can this customer consume this quantity, what would it cost, and recording what "
        "it did consume.",
        "Usage checks and usage events",
    ),
}
"""What each resource is (`client.<resource>`): its module's docstring and its classes' noun phrase, for
the generated resource modules and the docs."""
