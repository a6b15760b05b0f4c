"""The model vocabulary: `BaseModel`, `UNSET`, `Nullable`, `OptionalNullable`, `UnrecognizedStr`."""

from __future__ import annotations

from typing import Any, NewType, TypeVar, Union

import pydantic
from pydantic import ConfigDict, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from ._unset import UNSET, Unset

__all__ = ["UNSET", "BaseModel", "Nullable", "OptionalNullable", "UnrecognizedStr", "Unset"]


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
