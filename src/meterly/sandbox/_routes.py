"""The sandbox's routes, read from the SDK's registry: every operation at its path under each prefix of
the service it belongs to."""

from __future__ import annotations

from typing import Any, Dict

from meterly._declaration import Operation
from meterly._registry import OPERATIONS
from meterly.sandbox._http import Service
from meterly.sandbox.services import autumn, commet


def service_of(operation: Operation[Any]) -> Service:
    """Commet's operations are those whose answers come in an envelope; the others are Autumn's."""
    return commet.SERVICE if operation.envelope is not None else autumn.SERVICE


UNROUTED = autumn.SERVICE
"""The service whose error shape answers a path that is no operation's."""

_BY_ID = {op.operation_id: op for op in OPERATIONS}

ROUTES: Dict[str, Operation[Any]] = {
    **{prefix + op.path: op for op in OPERATIONS for prefix in service_of(op).prefixes},
    **{
        prefix + path: _BY_ID[operation_id]
        for service in (autumn.SERVICE, commet.SERVICE)
        for path, operation_id in service.aliases
        for prefix in service.prefixes
    },
}
"""Every operation of the registry by its path, and by the older paths its service still routes."""
