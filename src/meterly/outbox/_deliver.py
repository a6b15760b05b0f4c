"""The seam between the outbox and the wire: a deliverer takes one operation's batch of events and says,
per event, whether it was delivered, should be retried later, or was rejected for good.

`ClientDeliverer` and `AsyncClientDeliverer` deliver through a client's own pipeline (`_request`), so
events go out with the client's auth, version headers, hooks and redaction:
- Commet's `usage.track`: one call per event, with the event's `Idempotency-Key` (deduplicated by the
  service for 24 h, so a resend after a lost answer counts once);
- Autumn's `balances.track`: one `batch_track` per batch of up to 1,000, each item carrying its
  `idempotency_key` (deduplicated for 24 h);
- Autumn's `balances.track_tokens`: one call per event. The service does not deduplicate it, so an event
  whose call may have arrived without an answer is never resent: it goes to the dead-letter list marked
  "outcome unknown", for a person to reconcile (counting usage twice is worse than not counting it).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Sequence

# A deliverer sends through its client's private `_request`: both are internals of one package.
# pyright: reportPrivateUsage=false
import pydantic_core

from meterly import errors
from meterly._prepare import EncodedArray
from meterly._requester import AsyncRequester, Requester
from meterly.outbox._operations import (
    BALANCES_BATCH_TRACK,
    BALANCES_TRACK,
    all_params,
    registered,
    renamed_keys,
    wire_keys,
)
from meterly.outbox._store import Event

DELIVERED = "delivered"
RETRY = "retry"
REJECTED = "rejected"


class Outcome(NamedTuple):
    """What became of one event's delivery."""

    kind: str
    """`DELIVERED`, `RETRY` (later, after a backoff) or `REJECTED` (never retried)."""
    error: Optional[BaseException] = None
    retry_after: Optional[float] = None
    """Seconds the service asked to wait (`Retry-After`), for a retry."""


Deliver = Callable[[str, Sequence[Event]], Sequence[Outcome]]
AsyncDeliver = Callable[[str, Sequence[Event]], Awaitable[Sequence[Outcome]]]

DELIVERED_OUTCOME = Outcome(DELIVERED)
NOT_TRIED = Outcome(RETRY, errors.APIConnectionError("not tried: an earlier event of the batch failed"))

_UNFIXABLE_STATUSES = frozenset({400, 404, 409, 413, 422})
"""4xx answers that say the event itself is wrong (unknown customer or feature, a bad value, a key reused
with another body): resending the same event can never succeed. 401 and 403 are not among them: a key
is fixed by its operator, and the events should still be there when it is."""


def classify(error: BaseException, *, deduplicated: bool = True) -> Outcome:
    """The outcome of a delivery that raised `error`."""
    if isinstance(error, errors.RequestValidationError):
        return Outcome(REJECTED, error)  # stored by another SDK version, and wrong for this one
    if isinstance(error, errors.APIError):
        status = error.status_code or 0
        if status in _UNFIXABLE_STATUSES:
            return Outcome(REJECTED, error)
        # A 408 or a 5xx may come after the service acted on the request; any other status refused it.
        if deduplicated or not (status == 408 or status >= 500):
            return Outcome(RETRY, error, getattr(error, "retry_after", None))
        return Outcome(REJECTED, _unknown(error))
    if isinstance(error, errors.ResponseValidationError):
        return DELIVERED_OUTCOME  # a 2xx: the service recorded it, whatever the body said
    # A write that may have been recorded: resent with its key when the service deduplicates it, never
    # otherwise. Another request's answer (`ResponseMismatchError`) says nothing of this one's fate.
    unknown = isinstance(
        error, (errors.WriteOutcomeUnknownError, errors.ResponseMismatchError, errors.APITimeoutError)
    )
    if not deduplicated and unknown:
        return Outcome(REJECTED, _unknown(error))
    return Outcome(RETRY, error)


def _unknown(error: BaseException) -> errors.MeterlyError:
    """The dead-letter error of a write the service may have recorded, and that is therefore not resent."""
    return errors.MeterlyError(f"outcome unknown, not resent (the service does not deduplicate it): {error}")


def call_arguments(operation_id: str, event: Event) -> Dict[str, Any]:
    """A resource method's arguments for one event: its body, its key, and the outbox's own retrying."""
    arguments: Dict[str, Any] = dict.fromkeys(all_params(operation_id))
    arguments.update(event.body)
    arguments.update(
        idempotency_key=event.idempotency_key,
        retries=None,
        server_url=None,
        timeout_ms=None,
        http_headers=None,
    )
    return arguments


def batch_arguments(items: Any) -> Dict[str, Any]:
    """`balances.batch_track`'s arguments for a batch: each item carries its own key, and the outbox
    does its own retrying."""
    return {
        "events": items,
        "idempotency_key": None,
        "retries": None,
        "server_url": None,
        "timeout_ms": None,
        "http_headers": None,
    }


_encode_items = pydantic_core.to_json


def batch_items(events: Sequence[Event]) -> List[Dict[str, Any]]:
    """The `batch_track` items: each track body under its JSON keys, plus the event's `idempotency_key`.

    Built in one go, without giving up the GIL between items: each release lets an app thread in, and
    the sender then takes the GIL back by force, stalling whichever enqueue was running."""
    renamed = renamed_keys(BALANCES_TRACK)
    items: List[Dict[str, Any]] = []
    for event in events:
        body = event.body
        if renamed.isdisjoint(body):
            item = dict(body)
        else:
            keys = wire_keys(BALANCES_TRACK)
            item = {keys.get(name, name): value for name, value in body.items()}
        item["idempotency_key"] = event.idempotency_key
        items.append(item)
    return items


def batch_body(events: Sequence[Event]) -> Any:
    """`batch_track`'s `events` for a batch. Each event's body was checked when it was queued, so when
    every body holds only the arguments this SDK version checks, the items go encoded, as they are
    (`EncodedArray`): checking them again is most of a sender's CPU per batch. Otherwise (a durable
    file written by another version) they go as dicts, checked like any call's."""
    known = wire_keys(BALANCES_TRACK).keys()
    items = batch_items(events)
    if all(known >= event.body.keys() for event in events):
        content = _encode_items(items)
        # NaN or an infinity in `properties` (or these words in a text): the checked path refuses the
        # first, naming the argument, and sends the second.
        if b"NaN" not in content and b"Infinity" not in content:
            return EncodedArray(content)
    return items


def batch_outcomes(events: Sequence[Event], outcome: Outcome) -> List[Outcome]:
    return [outcome] * len(events)


class ClientDeliverer:
    """Delivers through a `Meterly` client (its pipeline: auth, versions, hooks, redaction)."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def __call__(self, operation_id: str, events: Sequence[Event]) -> Sequence[Outcome]:
        if operation_id == BALANCES_TRACK:
            return self._batch(events)
        op = registered(operation_id)
        deduplicated = op.dedup != "none"
        outcomes: List[Outcome] = []
        for event in events:
            try:
                self._client._request(op, call_arguments(operation_id, event))
            except Exception as exc:  # every failure becomes an outcome, never a dead sender
                outcome = classify(exc, deduplicated=deduplicated)
                outcomes.append(outcome)
                if outcome.kind == RETRY:
                    return outcomes + [NOT_TRIED] * (len(events) - len(outcomes))
            else:
                outcomes.append(DELIVERED_OUTCOME)
        return outcomes

    def _send_batch(self, events: Sequence[Event]) -> None:
        self._client._request(registered(BALANCES_BATCH_TRACK), batch_arguments(batch_body(events)))

    def _batch(self, events: Sequence[Event]) -> Sequence[Outcome]:
        try:
            self._send_batch(events)
        except Exception as exc:
            outcome = classify(exc)
            if outcome.kind == REJECTED and len(events) > 1:
                # One bad item refuses the whole batch: send each alone to find it, the rest go through.
                return [self._batch([event])[0] for event in events]
            return batch_outcomes(events, outcome)
        return batch_outcomes(events, DELIVERED_OUTCOME)


class AsyncClientDeliverer:
    """Delivers through an `AsyncMeterly` client."""

    def __init__(self, client: AsyncRequester) -> None:
        self._client = client

    async def __call__(self, operation_id: str, events: Sequence[Event]) -> Sequence[Outcome]:
        if operation_id == BALANCES_TRACK:
            return await self._batch(events)
        op = registered(operation_id)
        deduplicated = op.dedup != "none"
        outcomes: List[Outcome] = []
        for event in events:
            try:
                await self._client._request(op, call_arguments(operation_id, event))
            except Exception as exc:
                outcome = classify(exc, deduplicated=deduplicated)
                outcomes.append(outcome)
                if outcome.kind == RETRY:
                    return outcomes + [NOT_TRIED] * (len(events) - len(outcomes))
            else:
                outcomes.append(DELIVERED_OUTCOME)
        return outcomes

    async def _send_batch(self, events: Sequence[Event]) -> None:
        await self._client._request(registered(BALANCES_BATCH_TRACK), batch_arguments(batch_body(events)))

    async def _batch(self, events: Sequence[Event]) -> Sequence[Outcome]:
        try:
            await self._send_batch(events)
        except Exception as exc:
            outcome = classify(exc)
            if outcome.kind == REJECTED and len(events) > 1:
                return [(await self._batch([event]))[0] for event in events]
            return batch_outcomes(events, outcome)
        return batch_outcomes(events, DELIVERED_OUTCOME)
