"""`client.outbox.balances` and `client.outbox.usage`: the queued twins of the direct writes.

Written by hand for now, with the direct calls' body arguments; the resource generator (`make gen`)
writes them from the registry once it declares every queued operation. One class serves both clients:
queueing never waits, so there is nothing to await.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, Literal, Mapping, Optional, Union

from meterly import models
from meterly.outbox._operations import BALANCES_TRACK, BALANCES_TRACK_TOKENS, USAGE_TRACK

Enqueue = Callable[[str, Dict[str, Any]], models.Queued]


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


class OutboxUsage:
    """Commet's usage events, queued: each delivered by one `usage.track` with its `Idempotency-Key`."""

    def __init__(self, enqueue: Enqueue) -> None:
        self._enqueue = enqueue

    def track(
        self,
        *,
        customer_id: str,
        feature_code: str,
        value: float = 1,
        event_id: Optional[str] = None,
        timestamp: Union[datetime, str, None] = None,
        properties: Optional[Mapping[str, str]] = None,
        model: Optional[str] = None,
        input_tokens: Optional[int] = None,
        output_tokens: Optional[int] = None,
        cache_read_tokens: Optional[int] = None,
        cache_write_tokens: Optional[int] = None,
        idempotency_key: Optional[str] = None,
    ) -> models.Queued:
        """Queue a usage event to record with `usage.track`; returns at once, the sender delivers it.

        Args:
            customer_id: The customer who consumed the feature.
            feature_code: The feature, e.g. `api_calls`.
            value: How much was consumed (default 1).
            event_id: Your id of the event, to find it again.
            timestamp: When it happened: a `datetime` or ISO 8601 text (default: when it is queued).
            properties: Names and values (str) to attach to the event.
            model: The AI model, for token billing.
            input_tokens: Input tokens, for token billing.
            output_tokens: Output tokens, for token billing.
            cache_read_tokens: Tokens read from a prompt cache.
            cache_write_tokens: Tokens written to a prompt cache.
            idempotency_key: Sent as `Idempotency-Key` on every delivery attempt (default: a new UUID4).

        Returns:
            The queued event's operation, idempotency key and time.
        """
        return self._enqueue(USAGE_TRACK, dict(locals()))
