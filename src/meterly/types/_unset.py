"""`UNSET`: the value of a field the server did not send; importing it costs no pydantic work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from pydantic_core.core_schema import CoreSchema

__all__ = ["UNSET", "Unset"]


class Unset:
    """The type of `UNSET`: a field the server did not send (as opposed to one it sent as null)."""

    __slots__ = ()
    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "UNSET"

    def __copy__(self) -> Unset:
        return self

    def __deepcopy__(self, memo: Any) -> Unset:
        return self

    def __reduce__(self) -> str:
        return "UNSET"

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


UNSET: Final[Unset] = Unset()
"""A falsy singleton: the value of an `OptionalNullable` field that was absent."""
