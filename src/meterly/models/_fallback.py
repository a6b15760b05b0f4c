"""The `is_fallback` marker shared by the answers that fail-open can make up."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import PrivateAttr

from meterly.types import BaseModel

FallbackReason = Literal["timeout", "connection", "server_error", "circuit_open"]
"""Why an answer was made up: the last attempt timed out, got no response, got a 5xx, or was never
made because the operation's circuit breaker is open."""


class FallbackAware(BaseModel):
    """A response the SDK may have made up under `fail_open`; the marker is never serialized."""

    _fallback_reason: Optional[FallbackReason] = PrivateAttr(default=None)

    @property
    def is_fallback(self) -> bool:
        """True when the SDK made this answer up because the service failed (`fail_open`)."""
        return self._fallback_reason is not None

    @property
    def fallback_reason(self) -> Optional[FallbackReason]:
        """Why the SDK answered on its own: `timeout`, `connection`, `server_error` or `circuit_open`.

        None for a real answer.
        """
        return self._fallback_reason
