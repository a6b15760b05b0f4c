"""What the outbox needs to know of each operation it queues: its body checks, and how its timestamp is
written. The one place that reads the SDK's registry of operations (`make gen` writes `client.outbox`'s
methods from `scripts/gen_code.py`'s `QUEUED_CALLS`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from meterly import models
from meterly._declaration import Check, Operation, Param

USAGE_TRACK = "usageTrack"
BALANCES_TRACK = "balancesTrack"
BALANCES_TRACK_TOKENS = "balancesTrackTokens"
BALANCES_BATCH_TRACK = "balancesBatchTrack"


Enqueue = Callable[[str, Dict[str, Any], Optional[str]], models.Queued]
"""Queues one event: the operation id, the body arguments given (not None) by Python name, and the
idempotency key given, if any."""

AUTUMN_OPERATIONS = frozenset({BALANCES_TRACK, BALANCES_TRACK_TOKENS})
"""Operations whose timestamp is Unix milliseconds (Autumn's); the others' is ISO 8601 text (Commet's)."""


def registered(operation_id: str) -> Operation[Any]:
    """The registry's declaration of a queued operation."""
    from meterly._registry import BY_ID

    return BY_ID[operation_id]


class QueuedOperation(NamedTuple):
    """An operation as the outbox queues it."""

    operation_id: str
    params: Tuple[Param, ...]
    unix_ms: bool
    """True when `timestamp` goes out as Unix milliseconds; False: ISO 8601 text."""
    checks: Dict[str, Tuple[Check, bool]]
    """Each body argument's check, and whether its value may hold containers, by Python name."""
    required: Tuple[str, ...]


@cache
def queued_operation(operation_id: str) -> QueuedOperation:
    params = registered(operation_id).params
    return QueuedOperation(
        operation_id,
        params,
        operation_id in AUTUMN_OPERATIONS,
        {param.name: (param.check, param.nested) for param in params},
        tuple(param.name for param in params if param.required),
    )


def stamp(unix_ms: bool, at: float) -> Any:
    """The event's timestamp for a moment (Unix seconds), in the operation's form."""
    if unix_ms:
        return int(at * 1000)
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


@cache
def wire_keys(operation_id: str) -> Dict[str, str]:
    """Python argument name to JSON key, for building batch items."""
    return {param.name: param.key for param in queued_operation(operation_id).params}


@cache
def renamed_keys(operation_id: str) -> FrozenSet[str]:
    """The arguments whose JSON key is not their Python name (`async_`)."""
    return frozenset(name for name, key in wire_keys(operation_id).items() if name != key)


def all_params(operation_id: str) -> List[str]:
    """Every body argument's Python name."""
    return [param.name for param in queued_operation(operation_id).params]
