"""`client.outbox.balances`, written by hand until the registry declares Autumn's `balances.track` and
`balances.track_tokens` (their checks: `meterly.outbox._operations`'s provisional bodies).

Once the registry declares both, `make gen` writes `OutboxBalances` into `meterly.outbox._resources`
from the declarations, and this module is no longer imported: delete it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Mapping, Optional, Union

from meterly import models
from meterly.outbox._operations import BALANCES_TRACK, BALANCES_TRACK_TOKENS, Enqueue


class OutboxBalances:
    """Autumn's usage writes, queued: delivered in `batch_track` batches (track) or one by one (tokens)."""

    def __init__(self, enqueue: Enqueue) -> None:
        self._enqueue = enqueue

    def track(
        self,
        *,
        customer_id: str,
        feature_id: Optional[str] = None,
        event_name: Optional[str] = None,
        entity_id: Optional[str] = None,
        value: Optional[float] = None,
        properties: Optional[Mapping[str, Any]] = None,
        timestamp: Union[datetime, int, None] = None,
        overage_behavior: Optional[Literal["cap", "overflow"]] = None,
        async_: Optional[bool] = None,
        idempotency_key: Optional[str] = None,
    ) -> models.Queued:
        """Queue usage to record with `balances.track`; returns at once, the sender delivers it.

        Args:
            customer_id: The customer who used the feature.
            feature_id: The feature used (exactly one of `feature_id` and `event_name`).
            event_name: An event mapped to several features.
            entity_id: The entity (e.g. a seat) that used it.
            value: How much was used (the service's default: 1; negative credits it back).
            properties: Names and values to attach to the event.
            timestamp: When it happened: a `datetime` or Unix milliseconds (default: when it is queued).
            overage_behavior: "cap" (the default) deducts only what fits; "overflow" deducts it all.
            async_: Sent as `async`: the service queues it.
            idempotency_key: The event's key (default: a new UUID4); a second event with the same key
                within 24 h is ignored by the service.

        Returns:
            The queued event's operation, idempotency key and time.
        """
        return self._enqueue(BALANCES_TRACK, dict(locals()))

    def track_tokens(
        self,
        *,
        customer_id: str,
        model_id: str,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: Optional[int] = None,
        cache_write_tokens: Optional[int] = None,
        audio_input_tokens: Optional[int] = None,
        audio_output_tokens: Optional[int] = None,
        reasoning_tokens: Optional[int] = None,
        feature_id: Optional[str] = None,
        entity_id: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        timestamp: Union[datetime, int, None] = None,
        overage_behavior: Optional[Literal["cap", "overflow"]] = None,
        async_: Optional[bool] = None,
        idempotency_key: Optional[str] = None,
    ) -> models.Queued:
        """Queue AI token usage to record with `balances.track_tokens`; returns at once.

        The service does not deduplicate `track_tokens`: an event whose call may have been recorded
        without an answer is not resent but put in the dead-letter list, marked "outcome unknown".

        Args:
            customer_id: The customer who used the tokens.
            model_id: The model, as `provider/model`.
            input_tokens: Input tokens used.
            output_tokens: Output tokens used.
            cache_read_tokens: Tokens read from a prompt cache.
            cache_write_tokens: Tokens written to a prompt cache.
            audio_input_tokens: Audio input tokens.
            audio_output_tokens: Audio output tokens.
            reasoning_tokens: Reasoning tokens.
            feature_id: The AI credit feature (default: the service finds it).
            entity_id: The entity (e.g. a seat) that used them.
            properties: Names and values to attach to the event.
            timestamp: When it happened: a `datetime` or Unix milliseconds (default: when it is queued).
            overage_behavior: "cap" (the default) deducts only what fits; "overflow" deducts it all.
            async_: Sent as `async`: the service queues it.
            idempotency_key: The event's key (default: a new UUID4).

        Returns:
            The queued event's operation, idempotency key and time.
        """
        return self._enqueue(BALANCES_TRACK_TOKENS, dict(locals()))
