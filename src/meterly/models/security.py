"""`Security`: per-scheme API keys."""

from __future__ import annotations

from typing import Optional

from pydantic import Field
from typing_extensions import Annotated

from meterly.types import BaseModel


class Security(BaseModel):
    """Keys per security scheme; a scheme left unset falls back to the client's `api_key`."""

    bearer_auth: Annotated[Optional[str], Field(repr=False)] = None
    """Sent as `Authorization: Bearer <key>` (balances.check)."""

    api_key_auth: Annotated[Optional[str], Field(repr=False)] = None
    """Sent as `x-api-key: <key>` (usage.check)."""
