"""SDK-wide hooks: the hooks listed here run before those passed to the client's constructor."""

from __future__ import annotations

from typing import List


def registered_hooks() -> List[object]:
    """Hook objects every client gets first; empty unless this SDK build adds some."""
    return []
