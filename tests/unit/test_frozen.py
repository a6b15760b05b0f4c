"""`meterly._frozen.Frozen` behaves as a frozen dataclass with the same fields does: construction by
position or keyword, read-only fields, ==, hash, repr, copy and pickle."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

from meterly._frozen import Frozen


class Point(Frozen):
    _FIELDS = ("x", "label", "extra")
    __slots__ = _FIELDS

    x: int
    label: str
    extra: Any

    def __init__(self, x: int, label: str = "a", extra: Any = None) -> None:
        self._set("x", x)
        self._set("label", label)
        self._set("extra", extra)


@dataclasses.dataclass(frozen=True)
class Point2:
    x: int
    label: str = "a"
    extra: Any = None


def test_equality_and_hash_follow_the_fields_in_order() -> None:
    assert Point(1, "b") == Point(x=1, label="b")
    assert Point(1, "b") != Point(1, "c")
    assert hash(Point(1, "b", (2, 3))) == hash(Point(1, "b", (2, 3)))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert Point(1) != Point2(1)  # another class, even with the same fields
    assert Point(1).__eq__(object()) is NotImplemented


def test_the_repr_reads_as_a_dataclass_does() -> None:
    assert repr(Point(1, "b", [1])) == repr(Point2(1, "b", [1])).replace("Point2", "Point")


def test_fields_are_read_only_as_in_a_frozen_dataclass() -> None:
    point = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError, match="'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del point.label
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.other = 1  # type: ignore[attr-defined]
    assert point.x == 1
    assert not hasattr(point, "__dict__")


def test_copies_and_pickles_are_equal() -> None:
    point = Point(1, "b", {"k": [1]})
    assert copy.copy(point) == point
    deep = copy.deepcopy(point)
    assert deep == point
    assert deep.extra is not point.extra
    assert pickle.loads(pickle.dumps(point)) == point
