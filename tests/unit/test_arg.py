"""`Arg`: how a resource method takes a request-model field, kept as metadata pydantic ignores."""

from __future__ import annotations

import pydantic
from typing_extensions import Annotated

from meterly._arg import NO_DEFAULT, Arg


class Request(pydantic.BaseModel):
    quantity: Annotated[int, Arg(default=1)] = 5
    labels: Annotated[list, Arg("Mapping[str, str]")] = []  # type: ignore[type-arg]


def test_an_arg_keeps_the_fields_own_annotation_and_default_unless_told() -> None:
    assert Arg() == ("", NO_DEFAULT, "")
    assert Arg("Mapping[str, str]", 1) == Arg(annotation="Mapping[str, str]", default=1)


def test_no_default_reads_as_its_name() -> None:
    assert repr(NO_DEFAULT) == "NO_DEFAULT"


def test_the_model_keeps_the_arg_in_the_fields_metadata() -> None:
    assert Arg(default=1) in Request.model_fields["quantity"].metadata
    assert Arg("Mapping[str, str]") in Request.model_fields["labels"].metadata


def test_the_model_validates_as_if_the_arg_were_not_there() -> None:
    assert Request().quantity == 5
    assert Request(quantity=2).quantity == 2
    assert Request.model_validate({"labels": ["a"]}).labels == ["a"]
