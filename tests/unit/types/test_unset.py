"""`UNSET`: a falsy singleton for a field the server did not send, never read from JSON."""

from __future__ import annotations

import copy
import pickle

import pydantic
import pytest

from meterly.types import UNSET, Unset


def test_unset_is_falsy_and_reads_as_its_name() -> None:
    assert not UNSET
    assert repr(UNSET) == str(UNSET) == "UNSET"


def test_calling_the_type_gives_the_singleton() -> None:
    assert Unset() is UNSET
    assert Unset("UNSET") is UNSET


def test_the_singleton_survives_copy_and_pickle() -> None:
    assert copy.deepcopy(UNSET) is UNSET
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET


def test_a_model_field_accepts_the_unset_object_and_serializes_it_as_null() -> None:
    adapter = pydantic.TypeAdapter(Unset)
    assert adapter.validate_python(UNSET) is UNSET
    assert adapter.dump_python(UNSET) is None


@pytest.mark.parametrize("value", ["UNSET", None, 0])
def test_no_other_python_value_validates_as_unset(value: object) -> None:
    with pytest.raises(pydantic.ValidationError):
        pydantic.TypeAdapter(Unset).validate_python(value)


def test_json_never_validates_as_unset() -> None:
    with pytest.raises(pydantic.ValidationError, match="never read from JSON"):
        pydantic.TypeAdapter(Unset).validate_json('"UNSET"')


def test_its_json_schema_matches_nothing() -> None:
    assert pydantic.TypeAdapter(Unset).json_schema() == {"not": {}}
