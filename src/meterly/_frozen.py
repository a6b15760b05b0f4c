"""`Frozen`: the base of small immutable value classes that `import meterly` loads (`HookContext`).

They behave as frozen dataclasses do for what anyone does with them: fields read-only (assigning one
raises `dataclasses.FrozenInstanceError`), `==` and `hash` by the fields in order, a repr naming them,
copy and pickle. A frozen dataclass is built by generating and compiling six methods per class, a
measurable part of `import meterly` (docs/performance.md "Import and construct").

A subclass lists its fields in order in `_FIELDS`, makes them its `__slots__`, and sets them in
`__init__` (which takes them in that order) with `_set`.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, Tuple

__all__ = ["Frozen"]


class Frozen:
    __slots__ = ()
    _FIELDS: ClassVar[Tuple[str, ...]] = ()

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _fields(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return type(self), self._fields()
