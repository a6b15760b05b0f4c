"""`balances.finalize`: confirm or release a balance held by `balances.check(lock=...)` (Autumn)."""

from __future__ import annotations

from meterly import models
from meterly._declaration import BEARER_AUTH, Operation
from meterly._endpoints._services import AUTUMN_RECORDING_VERSION

BALANCES_FINALIZE: Operation[models.FinalizeResponse] = Operation(
    operation_id="balancesFinalize",
    sdk_call="balances.finalize",
    path="/v1/balances.finalize",
    security=BEARER_AUTH,
    request=lambda: models.FinalizeRequest,
    response=lambda: models.FinalizeResponse,
    writes=True,
    dedup="none",
    version_header=AUTUMN_RECORDING_VERSION,
    example_setup="""client.balances.check(
    customer_id="cus_pro", feature_id="messages", required_balance=3, lock={"lock_id": "lock_gen_42"}
)""",
    doc="""Confirm (record) or release (give back) the balance a check held under `lock_id`.

`POST /v1/balances.finalize` with `Authorization: Bearer <key>`. Reserve with
`balances.check(required_balance=..., lock={"lock_id": ...})` before a long action (a streamed
answer), then finalize with what it really used (`override_value`). Not deduplicated by
Autumn: a lost answer raises `errors.WriteOutcomeUnknownError`; an unfinalized hold is given
back when its `expires_at` passes.

Returns:
    `success`: the hold was confirmed or released.""",
    arg_docs={
        "override_value": "With `confirm`: the amount actually used, recorded instead of the amount held.",
    },
)
