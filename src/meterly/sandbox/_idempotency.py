"""`IdempotencyStore`: the answers a sandbox replays when a request comes again with its Idempotency-Key,
on the operations whose service honours that header (`honours_idempotency_key`)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional, Tuple

from meterly._declaration import Operation
from meterly.sandbox._http import ProtocolError, SandboxResponse

TTL_MS = 24 * 3600 * 1000
"""How long a key is honoured: Commet's 24 hours, on the sandbox clock."""

Slot = Tuple[str, str]
"""(operation id, Idempotency-Key): a key is scoped to its operation."""


def honours_idempotency_key(operation: Operation[Any]) -> bool:
    """Whether the real service deduplicates this operation by its Idempotency-Key header, as its
    declaration says (Commet's routes do; Autumn's check and track do not: a resent request is counted
    again, and the sandbox must show that rather than hide it)."""
    return operation.dedup == "header"


class IdempotencyStore:
    """First answers by slot, with the fingerprint of their body, for `TTL_MS` of the sandbox clock.

    Memory is bounded by time, as the service's promise is: a key is forgotten once its 24 hours have
    passed, never earlier because newer keys came (keys are kept in the order they were first seen, so
    expiring reads only the oldest)."""

    def __init__(self) -> None:
        self._answers: OrderedDict[Slot, Tuple[str, SandboxResponse, int]] = OrderedDict()

    def replay(self, slot: Slot, fingerprint: str, now_ms: int) -> Optional[SandboxResponse]:
        """The first answer of `slot`, if any; a 409 when the slot was used with another body."""
        self._expire(now_ms)
        stored = self._answers.get(slot)
        if stored is None:
            return None
        if stored[0] != fingerprint:
            raise ProtocolError(
                409,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request body",
                "Idempotency-Key",
            )
        return stored[1]

    def keep(self, slot: Slot, fingerprint: str, response: SandboxResponse, now_ms: int) -> None:
        self._expire(now_ms)
        self._answers[slot] = (fingerprint, response, now_ms)
        self._answers.move_to_end(slot)  # kept in time order, so expiry stops at the first fresh one

    def __len__(self) -> int:
        return len(self._answers)

    def _expire(self, now_ms: int) -> None:
        while self._answers:
            slot, (_, _, stored_at) = next(iter(self._answers.items()))
            if now_ms - stored_at < TTL_MS:
                break
            del self._answers[slot]
