"""`Arg`: how a resource method takes a request-model field, where that differs from the field itself.

A request model describes the wire. Most fields are taken as they are; a few are taken in a friendlier
form (a mapping the model turns into Commet's list of pairs) or with an SDK default (`quantity=1`).
`Arg` in the field's `Annotated[...]` says so, and `scripts/gen.py` writes the methods from it. Pydantic
keeps unknown metadata and ignores it, so the model validates as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
"""`Arg.default` when the method keeps the field's own default (or none, for a required field)."""


class Arg(NamedTuple):
    """The method's annotation (source text, as the generated signature spells it; empty: the field's),
    its default (`NO_DEFAULT`: the field's), and the argument whose presence keeps that default off the
    wire (`unsent_with`: Commet prices tokens by `model` and takes no `value` with them)."""

    annotation: str = ""
    default: Any = NO_DEFAULT
    unsent_with: str = ""
