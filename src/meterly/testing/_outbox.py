"""`OutboxRecorder`: a client with a usage outbox whose deliveries a test can flush and read back (the
`meterly_outbox` fixture)."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, cast

import httpx

from meterly import models
from meterly.hooks import HookContext

if TYPE_CHECKING:
    from meterly.outbox import ClientOutbox, DeadLetter
    from meterly.sdk import Meterly

__all__ = ["DeliveredEvent", "OutboxRecorder"]


class DeliveredEvent(NamedTuple):
    """One queued event as the service accepted it."""

    operation: str
    """The operation it was queued as (`usageTrack`, `balancesTrack`, ...); a `balances.track` event
    delivered in a `batch_track` batch is listed under `balancesTrack`, one entry per item."""
    idempotency_key: str
    body: Dict[str, Any]
    """What the service received for it, by argument name (`customer_id`, as it was queued)."""


_BATCH = "balancesBatchTrack"


class _DeliveryHook:
    """Records each 2xx answer to a write the outbox sends, from the request the service accepted."""

    def __init__(self, recorder: OutboxRecorder) -> None:
        self._recorder = recorder

    def after_success(self, ctx: HookContext, response: httpx.Response, /) -> httpx.Response:
        self._recorder.saw(ctx.operation_id, response.request)
        return response


def _by_name(operation_id: str, body: Dict[str, Any]) -> Dict[str, Any]:
    from meterly.outbox._operations import wire_keys  # loaded already: the recorded client has an outbox

    names = {key: name for name, key in wire_keys(operation_id).items()}
    return {names.get(key, key): value for key, value in body.items() if key != "idempotency_key"}


class OutboxRecorder:
    """A `Meterly` with an in-memory outbox, over the test's sandbox engine: queue through
    `client.outbox` (or hand `client` to the code under test), `flush()`, then read `delivered`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delivered: List[DeliveredEvent] = []
        self.hook = _DeliveryHook(self)
        """The hook to give the client (`Meterly(hooks=[recorder.hook], outbox=True)`)."""
        self.client: Meterly
        """The client whose outbox is recorded."""

    @property
    def outbox(self) -> ClientOutbox:
        """`client.outbox`."""
        return self.client.outbox

    def flush(self, timeout_ms: Optional[float] = 5_000) -> models.FlushResult:
        """Deliver what waits now (retrying at once), for at most `timeout_ms`."""
        return self.client.outbox.flush(timeout_ms=timeout_ms)

    @property
    def delivered(self) -> List[DeliveredEvent]:
        """Every event delivered so far, in the order the service accepted them."""
        with self._lock:
            return list(self._delivered)

    def dead_letters(self) -> List[DeadLetter]:
        """The events the service refused for good (never retried)."""
        return self.client.outbox.dead_letters()

    def saw(self, operation_id: str, request: httpx.Request) -> None:
        """Records what a 2xx answer to one of the outbox's writes accepted (the hook calls it)."""
        if operation_id not in ("usageTrack", "balancesTrack", "balancesTrackTokens", _BATCH):
            return
        body: Any = json.loads(request.content or b"null")
        if operation_id == _BATCH:
            items: List[Dict[str, Any]] = cast(
                "List[Dict[str, Any]]", body if isinstance(body, list) else body.get("events", [])
            )
            events = [
                DeliveredEvent(
                    "balancesTrack", item.get("idempotency_key", ""), _by_name("balancesTrack", item)
                )
                for item in items
            ]
        else:
            key = request.headers.get("idempotency-key", "")
            events = [DeliveredEvent(operation_id, key, _by_name(operation_id, body))]
        with self._lock:
            self._delivered.extend(events)
