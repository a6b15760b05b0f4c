"""The registry of operations: every endpoint of the API, each declared once beside its resource methods
(`meterly/balances.py`, `meterly/usage.py`).

The clients' resources, the sandbox's routes and auth, `scripts/gen_docs.py`, the contract test against
`openapi.yaml` and the `meterly` command all read `OPERATIONS`; nothing else lists the operations.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from meterly._operation import Operation
from meterly.balances import (
    BALANCES_BATCH_TRACK,
    BALANCES_CHECK,
    BALANCES_FINALIZE,
    BALANCES_TRACK,
    BALANCES_TRACK_TOKENS,
)
from meterly.usage import USAGE_CHECK, USAGE_TRACK

OPERATIONS: Tuple[Operation[Any], ...] = (
    BALANCES_CHECK,
    BALANCES_TRACK,
    BALANCES_TRACK_TOKENS,
    BALANCES_BATCH_TRACK,
    BALANCES_FINALIZE,
    USAGE_CHECK,
    USAGE_TRACK,
)
"""Every operation, grouped by resource in the order the docs and the CLI show them."""

BY_ID: Dict[str, Operation[Any]] = {op.operation_id: op for op in OPERATIONS}


def resources() -> Dict[str, Tuple[Operation[Any], ...]]:
    """The operations of each resource (`client.<resource>`), in registry order."""
    grouped: Dict[str, Tuple[Operation[Any], ...]] = {}
    for op in OPERATIONS:
        grouped[op.resource] = (*grouped.get(op.resource, ()), op)
    return grouped


__all__ = ["BY_ID", "OPERATIONS", "resources"]
