"""How the sandbox answers each operation of the registry: one module per operation, found by its name.

`balances.check` is answered by `balances_check.py`: `<resource>_<method_name>` of its registry entry.
Each module holds one function, `handle(world, body) -> dict | Reply`: `body` is the request read by a
parser compiled from the operation's request model (`_body.strict_parser`), and the dict is the answer
before its service wraps it (`meterly.sandbox.services`); a `Reply` carries another status (202).
Errors are raised as `ProtocolError`s. A module whose body is not one JSON object of its model
(`batch_track`'s array) defines `read_body(raw, parse) -> body` itself; `NOT_EMULATED` names the
service's fields it refuses with a 400 rather than ignore.

Adding an operation to the sandbox takes that one file; nothing else lists the operations. A registry
entry without its module stops the sandbox from being built, with an error naming the missing module.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable, Dict, Mapping, NamedTuple, Union, cast

from meterly._declaration import Operation
from meterly.sandbox._http import INVALID, ProtocolError
from meterly.sandbox._world import World
from meterly.sandbox.operations._body import Body, strict_parser


class Reply(NamedTuple):
    """An answer with a status other than 200."""

    status: int
    body: Dict[str, Any]


Handle = Callable[[World, Any], Union[Dict[str, Any], Reply]]
Parse = Callable[[Mapping[str, Any]], Body]


class Handler(NamedTuple):
    """An operation as the sandbox answers it: its body's reader (from the whole JSON value) and its
    handler."""

    parse: Callable[[Any], Any]
    handle: Handle


def read_object(raw: Any, parse: Parse) -> Body:
    """The default body: one JSON object of the request model."""
    if not isinstance(raw, dict):
        raise ProtocolError(400, INVALID, "the request body must be a JSON object")
    return parse(cast(Dict[str, Any], raw))


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
    parse = strict_parser(operation.request_model, tuple(getattr(module, "NOT_EMULATED", ())))
    read_body: Callable[[Any, Parse], Any] = getattr(module, "read_body", read_object)

    def read(raw: Any) -> Any:
        return read_body(raw, parse)

    return Handler(read, cast(Handle, handle))
