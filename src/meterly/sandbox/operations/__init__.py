"""How the sandbox answers each operation of the registry: one module per operation, found by its name.

`balances.check` is answered by `balances_check.py`: `<resource>_<method_name>` of its registry entry.
Each module holds one function, `handle(world, body) -> dict`: `body` is the request read by a parser
compiled from the operation's request model (`_body.body_parser`), and the dict is the answer before its
service wraps it (`meterly.sandbox.services`). Errors are raised as `ProtocolError`s.

Adding an operation to the sandbox takes that one file; nothing else lists the operations. A registry
entry without its module stops the sandbox from being built, with an error naming the missing module.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable, Dict, Mapping, NamedTuple, cast

from meterly._declaration import Operation
from meterly.sandbox._world import World
from meterly.sandbox.operations._body import Body, body_parser

Handle = Callable[[World, Body], Dict[str, Any]]


class Handler(NamedTuple):
    """An operation as the sandbox answers it: its body's parser and its handler."""

    parse: Callable[[Mapping[str, Any]], Body]
    handle: Handle


def module_name(operation: Operation[Any]) -> str:
    """The module answering `operation`: `balances.check` -> `meterly.sandbox.operations.balances_check`."""
    return f"{__name__}.{operation.resource}_{operation.method_name}"


@functools.cache
def handler(operation: Operation[Any]) -> Handler:
    """The handler of `operation`, its parser compiled from the request model (once per process)."""
    name = module_name(operation)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise LookupError(
            f"the sandbox does not answer {operation.operation_id!r}: add the module {name} with "
            "`handle(world, body)` (see meterly/sandbox/operations/__init__.py)"
        ) from None
    handle = getattr(module, "handle", None)
    if not callable(handle):
        raise LookupError(f"{name} has no `handle(world, body)` function")
    return Handler(body_parser(operation.request_model), cast(Handle, handle))
