"""The registry of operations: every endpoint of the API, each declared once in its own module of
`meterly._endpoints`.

`scripts/gen.py` (`make gen`) writes from these declarations the resource modules (`meterly/balances.py`,
`meterly/usage.py`), the clients' resource attributes (`meterly._constructors`) and
`meterly._endpoints.ALL`; the sandbox's routes and auth, the docs, the contract test against
`openapi.yaml` and the `meterly` command read `OPERATIONS` at run time. Nothing else lists the
operations.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from meterly._declaration import Operation
from meterly._endpoints import ALL

OPERATIONS: Tuple[Operation[Any], ...] = ALL
"""Every operation, grouped by resource in the order the docs and the CLI show them."""

BY_ID: Dict[str, Operation[Any]] = {op.operation_id: op for op in OPERATIONS}


def resources() -> Dict[str, Tuple[Operation[Any], ...]]:
    """The operations of each resource (`client.<resource>`), in registry order."""
    grouped: Dict[str, Tuple[Operation[Any], ...]] = {}
    for op in OPERATIONS:
        grouped[op.resource] = (*grouped.get(op.resource, ()), op)
    return grouped


__all__ = ["BY_ID", "OPERATIONS", "resources"]
