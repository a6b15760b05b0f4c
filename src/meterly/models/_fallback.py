"""The `is_fallback` marker shared by the answers that fail-open can make up."""

from __future__ import annotations

from typing import Literal, Optional

from meterly.types import BaseModel

FallbackReason = Literal["timeout", "connection", "server_error", "circuit_open", "last_known"]
"""Why an answer was made up: the last attempt timed out, got no response, got a 5xx, or was never
made because the operation's circuit breaker is open; or, `last_known`, the call failed and this is
the last real answer seen for the same customer, feature and entity
(`FailOpenPolicy.last_known_max_age_ms`)."""

_REASON = "_fallback_reason"


class FallbackAware(BaseModel):
    """A response the SDK may have made up under `fail_open`; the marker is never serialized.

    The marker is private state that only made-up answers carry (`mark_fallback`). It is not a declared
    `PrivateAttr`: one would make pydantic run Python code to initialise it on every parsed response.
    Copies, pickles and `==` keep it, as they keep any private state.
    """

    @property
    def is_fallback(self) -> bool:
        """True when the SDK made this answer up because the service failed (`fail_open`)."""
        return self.fallback_reason is not None

    @property
    def fallback_reason(self) -> Optional[FallbackReason]:
        """Why the SDK answered on its own: `timeout`, `connection`, `server_error`, `circuit_open`, or
        `last_known` (a copy of the last real answer for the same customer, feature and entity).

        None for a real answer.
        """
        private = self.__pydantic_private__
        return private.get(_REASON) if private else None


def mark_fallback(answer: FallbackAware, reason: FallbackReason) -> None:
    """Marks `answer` as made up by the SDK for `reason`."""
    object.__setattr__(answer, "__pydantic_private__", {_REASON: reason})
