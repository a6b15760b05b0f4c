"""`BaseModel`: JSON names as aliases, unknown keys kept, and only the fields present serialized back."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from meterly.types import UNSET, BaseModel, Nullable, OptionalNullable


class Item(BaseModel):
    customer_id: str = Field(alias="customerId")
    note: Nullable[str] = None
    limit: OptionalNullable[int] = UNSET
    plan: Optional[str] = None


def test_a_field_is_read_by_its_json_name_or_its_python_name() -> None:
    assert Item.model_validate({"customerId": "cus_1"}).customer_id == "cus_1"
    assert Item(customer_id="cus_1").customer_id == "cus_1"


def test_unknown_keys_are_kept() -> None:
    item = Item.model_validate({"customerId": "cus_1", "newField": 3})
    assert item.model_extra == {"newField": 3}


def test_an_absent_field_stays_absent_when_serialized() -> None:
    item = Item.model_validate({"customerId": "cus_1"})
    assert item.model_dump(by_alias=True) == {"customerId": "cus_1"}
    assert item.limit is UNSET


def test_a_null_field_stays_null_when_serialized() -> None:
    item = Item.model_validate({"customerId": "cus_1", "note": None, "limit": None})
    assert item.model_dump(by_alias=True) == {"customerId": "cus_1", "note": None, "limit": None}


def test_python_names_are_used_unless_aliases_are_asked_for() -> None:
    item = Item.model_validate({"customerId": "cus_1", "plan": "pro"})
    assert item.model_dump() == {"customer_id": "cus_1", "plan": "pro"}


def test_a_field_named_like_pydantics_namespace_is_allowed() -> None:
    class WithModelField(BaseModel):
        model_name: str

    assert WithModelField(model_name="gpt").model_name == "gpt"
