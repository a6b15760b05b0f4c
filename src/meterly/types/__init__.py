"""Types shared by every model: the `UNSET` sentinel, nullable aliases and open enums."""

from .basemodel import UNSET, BaseModel, Nullable, OptionalNullable, UnrecognizedStr, Unset

__all__ = ["UNSET", "BaseModel", "Nullable", "OptionalNullable", "UnrecognizedStr", "Unset"]
