"""Types shared by every model: the `UNSET` sentinel, nullable aliases and open enums.

`UNSET` is importable at no cost; the pydantic-based names load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._unset import UNSET, Unset

if TYPE_CHECKING:
    from .basemodel import BaseModel, Nullable, OptionalNullable, UnrecognizedStr

__all__ = ["UNSET", "BaseModel", "Nullable", "OptionalNullable", "UnrecognizedStr", "Unset"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import basemodel

        return getattr(basemodel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
