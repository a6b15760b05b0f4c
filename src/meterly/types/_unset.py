"""`UNSET`: the value of a field the server did not send; importing it costs no pydantic work."""

from __future__ import annotations

from enum import Enum, EnumMeta
from typing import TYPE_CHECKING, Any, Callable, Final, Literal, cast

if TYPE_CHECKING:
    from pydantic_core.core_schema import CoreSchema

__all__ = ["UNSET", "Unset"]


class _UnsetMeta(EnumMeta):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # `Unset()` gives the singleton, as before `Unset` became an enum; other calls are the enum's own.
        if not args and not kwargs:
            return cls.__members__["UNSET"]
        enum_call = cast("Callable[..., Any]", super().__call__)
        return enum_call(*args, **kwargs)


class Unset(Enum, metaclass=_UnsetMeta):
    """The type of `UNSET`: a field the server did not send (as opposed to one it sent as null).

    A one-member enum, so type checkers narrow `x is UNSET` and `x is not UNSET` like a literal.
    """

    UNSET = "UNSET"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "UNSET"

    __str__ = __repr__

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> CoreSchema:
        from pydantic_core import core_schema  # here: pydantic is not needed until a model is built

        # Only the UNSET object itself is accepted, so JSON input never validates as UNSET. The JSON side
        # is an explicit rejection: pydantic-core < 2.19 cannot run an isinstance check on JSON input.
        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_plain_validator_function(_never_from_json),
            python_schema=core_schema.is_instance_schema(cls),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: None),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"not": {}}


def _never_from_json(value: Any) -> Unset:
    raise ValueError("UNSET is never read from JSON")


UNSET: Final = Unset.UNSET
"""A falsy singleton: the value of an `OptionalNullable` field that was absent."""
