"""What the outbox needs to know of each operation it queues: its body checks, and how its timestamp is
written. The one place that reads the SDK's registry of operations (`make gen` writes `client.outbox`'s
methods from `scripts/gen_code.py`'s `QUEUED_CALLS`).

An operation the registry does not declare yet (Autumn's `balances.track` and `track_tokens`, in this
version) is checked by the provisional bodies below.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from typing import Any, Callable, Dict, List, Literal, NamedTuple, Optional, Tuple

from pydantic import Field
from typing_extensions import Annotated

from meterly import models
from meterly._declaration import Operation, Param, body_params
from meterly.types import BaseModel

USAGE_TRACK = "usageTrack"
BALANCES_TRACK = "balancesTrack"
BALANCES_TRACK_TOKENS = "balancesTrackTokens"
BALANCES_BATCH_TRACK = "balancesBatchTrack"


Enqueue = Callable[[str, Dict[str, Any]], models.Queued]
"""Queues one event: the operation id and the method's arguments (its `locals()`)."""

AUTUMN_OPERATIONS = frozenset({BALANCES_TRACK, BALANCES_TRACK_TOKENS})
"""Operations whose timestamp is Unix milliseconds (Autumn's); the others' is ISO 8601 text (Commet's)."""


def registered(operation_id: str) -> Optional[Operation[Any]]:
    """The registry's declaration of an operation, or None when this SDK version does not declare it."""
    from meterly._registry import BY_ID

    return BY_ID.get(operation_id)


class QueuedOperation(NamedTuple):
    """An operation as the outbox queues it."""

    operation_id: str
    params: Tuple[Param, ...]
    unix_ms: bool
    """True when `timestamp` goes out as Unix milliseconds; False: ISO 8601 text."""


@cache
def queued_operation(operation_id: str) -> QueuedOperation:
    op = registered(operation_id)
    params = op.params if op is not None else body_params(_PROVISIONAL_BODIES[operation_id])
    return QueuedOperation(operation_id, params, operation_id in AUTUMN_OPERATIONS)


def stamp(unix_ms: bool, at: float) -> Any:
    """The event's timestamp for a moment (Unix seconds), in the operation's form."""
    if unix_ms:
        return int(at * 1000)
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


@cache
def wire_keys(operation_id: str) -> Dict[str, str]:
    """Python argument name to JSON key, for building batch items."""
    return {param.name: param.key for param in queued_operation(operation_id).params}


# -- provisional bodies, until the registry declares Autumn's writes (then: delete this section) ------


class _TrackBody(BaseModel):
    customer_id: Annotated[str, Field(min_length=1)]
    feature_id: Annotated[Optional[str], Field(min_length=1)] = None
    event_name: Annotated[Optional[str], Field(min_length=1)] = None
    entity_id: Annotated[Optional[str], Field(min_length=1)] = None
    value: Optional[float] = None
    properties: Optional[Dict[str, Any]] = None
    timestamp: Optional[int] = None
    overage_behavior: Optional[Literal["cap", "overflow"]] = None
    async_: Annotated[Optional[bool], Field(alias="async")] = None


class _TrackTokensBody(BaseModel):
    customer_id: Annotated[str, Field(min_length=1)]
    model_id: Annotated[str, Field(min_length=1)]
    input_tokens: Annotated[int, Field(ge=0)]
    output_tokens: Annotated[int, Field(ge=0)]
    cache_read_tokens: Annotated[Optional[int], Field(ge=0)] = None
    cache_write_tokens: Annotated[Optional[int], Field(ge=0)] = None
    audio_input_tokens: Annotated[Optional[int], Field(ge=0)] = None
    audio_output_tokens: Annotated[Optional[int], Field(ge=0)] = None
    reasoning_tokens: Annotated[Optional[int], Field(ge=0)] = None
    feature_id: Annotated[Optional[str], Field(min_length=1)] = None
    entity_id: Annotated[Optional[str], Field(min_length=1)] = None
    properties: Optional[Dict[str, Any]] = None
    timestamp: Optional[int] = None
    overage_behavior: Optional[Literal["cap", "overflow"]] = None
    async_: Annotated[Optional[bool], Field(alias="async")] = None


_PROVISIONAL_BODIES: Dict[str, type[BaseModel]] = {
    BALANCES_TRACK: _TrackBody,
    BALANCES_TRACK_TOKENS: _TrackTokensBody,
}


def all_params(operation_id: str) -> List[str]:
    """Every body argument's Python name."""
    return [param.name for param in queued_operation(operation_id).params]
