"""The model vocabulary: `BaseModel`, `UNSET`, `Nullable`, `OptionalNullable`, `UnrecognizedStr`."""

from __future__ import annotations

from typing import Any, Final, Literal, NewType, TypeVar, Union

import pydantic
from pydantic import ConfigDict, SerializationInfo, SerializerFunctionWrapHandler, model_serializer
from pydantic_core import core_schema

__all__ = ["UNSET", "BaseModel", "Nullable", "OptionalNullable", "UnrecognizedStr", "Unset"]


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
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        # Only the UNSET object itself is accepted, so JSON input never validates as UNSET.
        return core_schema.is_instance_schema(
            cls, serialization=core_schema.plain_serializer_function_ser_schema(lambda _: None)
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"not": {}}


UNSET: Final[Unset] = Unset()
"""A falsy singleton: the value of an `OptionalNullable` field that was absent."""

T = TypeVar("T")

Nullable = Union[T, None]
"""Always present in the JSON, possibly null."""

OptionalNullable = Union[T, None, Unset]
"""May be absent (`UNSET`) or null (`None`)."""

UnrecognizedStr = NewType("UnrecognizedStr", str)
"""An enum value this SDK version does not know yet; enums are open so new values never break parsing."""


class BaseModel(pydantic.BaseModel):
    """Base of every Meterly model: snake_case attributes, JSON names as aliases, unknown keys kept.

    Serializing gives back the keys that were present: a field that was absent (never set) stays absent,
    a field that was null stays null.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        extra="allow",
        protected_namespaces=(),
        arbitrary_types_allowed=True,
        # Validators are compiled when a model is first used, not at import: cold starts stay cheap.
        defer_build=True,
    )

    @model_serializer(mode="wrap")
    def _serialize_present_fields(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields_set = self.__pydantic_fields_set__
        for name, field in type(self).model_fields.items():
            if name not in fields_set:
                key = field.alias if (info.by_alias and field.alias) else name
                data.pop(key, None)
        return data
