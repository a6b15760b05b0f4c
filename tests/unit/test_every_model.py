"""The behaviour every model shares, tested once over `meterly.models` so a new model is covered
without a new test: it parses a minimal body, keeps unknown keys, gives back the keys that were
present, and refuses a body that is not an object."""

from __future__ import annotations

import inspect
import typing
from typing import Any, Dict, List, Type

import pydantic
import pytest
from typing_extensions import Annotated

from meterly import models
from meterly.types import BaseModel

MODELS: List[Type[pydantic.BaseModel]] = [
    model
    for model in (getattr(models, name) for name in models.__all__)
    if inspect.isclass(model) and issubclass(model, pydantic.BaseModel)
]
IDS = [model.__name__ for model in MODELS]
SCALARS: List[Any] = [None, "x", 1, 1.5, True, [], {}]


def nested_models(annotation: Any) -> List[Type[pydantic.BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [found for arg in typing.get_args(annotation) for found in nested_models(arg)]


def sample(field: Any) -> Any:
    """The first candidate value the field accepts (a nested model's minimal body first)."""
    annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(annotation)
    examples = list(field.examples or [])  # the field's own example first: a literal takes only its values
    candidates = [minimal(model) for model in nested_models(field.annotation)] + examples + SCALARS
    for candidate in candidates:
        try:
            adapter.validate_python(candidate)
        except pydantic.ValidationError:
            continue
        return candidate
    pytest.fail(f"no candidate value fits {field}")


def minimal(model: Type[pydantic.BaseModel]) -> Dict[str, Any]:
    """A JSON body with only the model's required keys; when the model's own rule asks for more (a track
    event names exactly one of `feature_id` and `event_name`), its optional keys in order until it fits."""
    fields = model.model_fields.items()
    body = {field.alias or name: sample(field) for name, field in fields if field.is_required()}
    optional = [(field.alias or name, field) for name, field in fields if not field.is_required()]
    while True:
        try:
            model.model_validate(body)
        except pydantic.ValidationError:
            if not optional:
                raise
            key, field = optional.pop(0)
            body[key] = sample(field)
            continue
        return body


def constants(model: Type[pydantic.BaseModel]) -> set[str]:
    """The keys of fields that hold one constant (`Lock.enabled: Literal[True]`): the service requires
    them, so they are serialized even when the body left them out."""
    return {
        field.alias or name
        for name, field in model.model_fields.items()
        if typing.get_origin(field.annotation) is typing.Literal
        and len(typing.get_args(field.annotation)) == 1
    }


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_every_model_is_a_meterly_base_model(model: Type[pydantic.BaseModel]) -> None:
    assert issubclass(model, BaseModel)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_a_body_with_only_the_required_keys_parses(model: Type[pydantic.BaseModel]) -> None:
    assert isinstance(model.model_validate(minimal(model)), model)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_unknown_keys_are_kept(model: Type[pydantic.BaseModel]) -> None:
    parsed = model.model_validate({**minimal(model), "someNewKey": {"a": 1}})
    assert parsed.model_extra == {"someNewKey": {"a": 1}}


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_serializing_gives_back_only_the_keys_that_were_present(model: Type[pydantic.BaseModel]) -> None:
    body = minimal(model)
    assert set(model.model_validate(body).model_dump(by_alias=True, mode="json")) == set(body) | constants(
        model
    )


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_a_body_that_is_not_an_object_is_refused(model: Type[pydantic.BaseModel]) -> None:
    with pytest.raises(pydantic.ValidationError):
        model.model_validate_json("[]")


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_its_annotations_are_not_strings(model: Type[pydantic.BaseModel]) -> None:
    # A string annotation (`from __future__ import annotations`) is evaluated by pydantic when the class
    # is created, at about the cost of creating the model again: the first call pays it (docs/performance.md).
    own = inspect.get_annotations(model)
    assert [name for name, annotation in own.items() if isinstance(annotation, str)] == []
