"""Each operation is one declaration (`meterly._endpoints`) plus its models: the declaration's facts are
consistent with the models, and the generated resource methods take exactly the request model's fields."""

from __future__ import annotations

import inspect
import typing
from datetime import datetime
from typing import Any, Dict, Optional, Sequence, Union, get_args, get_origin

import pytest

from meterly import AsyncMeterly, Meterly, models
from meterly._arg import NO_DEFAULT, Arg
from meterly._declaration import BODY_KEY, Operation
from meterly._options import CallOptions
from meterly._registry import OPERATIONS
from meterly.models import requestdicts

IDS = [op.operation_id for op in OPERATIONS]


def _methods(op: Operation[Any]) -> list[Any]:
    return [
        getattr(typing.get_type_hints(client)[op.resource], op.method_name)
        for client in (Meterly, AsyncMeterly)
    ]


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) is Union:
        rest = tuple(arg for arg in get_args(annotation) if arg is not type(None))
        return rest[0] if len(rest) == 1 else Union[rest]
    return annotation


def _expected(op: Operation[Any]) -> Dict[str, tuple[Any, Any]]:
    """{name: (annotation, default)} of the body parameters, read from the request model on its own."""
    namespace = {**vars(typing), "datetime": datetime, "models": models}
    if op.array_body is not None:  # one argument: the items of the JSON array
        item = op.request_model.__name__
        annotation = Sequence[Union[getattr(models, item), getattr(models, f"{item}TypedDict")]]
        return {op.array_body.name: (annotation, inspect.Parameter.empty)}
    expected: Dict[str, tuple[Any, Any]] = {}
    for name, info in op.request_model.model_fields.items():
        arg = next((item for item in info.metadata if isinstance(item, Arg)), Arg())
        annotation = info.annotation
        if _without_none(annotation) is datetime:  # ISO 8601 text is taken too
            annotation = Union[datetime, str] if annotation is datetime else Optional[Union[datetime, str]]
        default = inspect.Parameter.empty if info.is_required() else info.default
        if arg.default is not NO_DEFAULT:
            default = arg.default
            annotation = _without_none(annotation)
        if arg.annotation:
            annotation = eval(arg.annotation, namespace)
        expected[name] = (annotation, default)
    return expected


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_every_method_takes_its_request_model_fields_then_the_call_options(op: Operation[Any]) -> None:
    expected = _expected(op)
    for method in _methods(op):
        signature = inspect.signature(method)
        hints = typing.get_type_hints(method)
        params = [p for name, p in signature.parameters.items() if name != "self"]
        # API.md's `batch_track(events, ...)`: an array body's argument may also be given by position.
        by_position = {op.array_body.name} if op.array_body is not None else set()
        kinds = {p.name: p.kind for p in params}
        assert all(
            kind
            is (
                inspect.Parameter.POSITIONAL_OR_KEYWORD
                if name in by_position
                else inspect.Parameter.KEYWORD_ONLY
            )
            for name, kind in kinds.items()
        )
        options = [name for name in inspect.signature(CallOptions.__init__).parameters if name != "self"]
        assert [p.name for p in params] == [*expected, *options]
        for name, (annotation, default) in expected.items():
            assert hints[name] == annotation, name
            assert signature.parameters[name].default == default, name
        assert hints["return"] is op.response_model


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_request_typeddict_holds_the_method_arguments(op: Operation[Any]) -> None:
    if op.array_body is not None:  # no `**params`: the items' TypedDict holds the item model's fields
        typed = getattr(models, f"{op.request_model.__name__}TypedDict")
        fields = op.request_model.model_fields
        assert list(typing.get_type_hints(typed)) == list(fields)
        assert typed.__required_keys__ == {name for name, info in fields.items() if info.is_required()}
        return
    typed = getattr(requestdicts, f"{op.request_model.__name__}TypedDict")
    hints = typing.get_type_hints(typed)
    expected = _expected(op)
    assert list(hints) == list(expected)
    assert typed.__required_keys__ == {n for n, (_, d) in expected.items() if d is inspect.Parameter.empty}
    assert getattr(models, typed.__name__) is typed


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_dedup_and_echoes_fit_the_models(op: Operation[Any]) -> None:
    assert op.dedup in ("header", "body_key", "none")
    if op.dedup == "body_key":  # each item of an array body carries its key
        assert op.array_body is not None
        assert BODY_KEY in op.request_model.model_fields
    request = op.request_model.model_fields
    response = op.response_model.model_fields
    for param, attribute in op.echoes:
        assert param in request, param
        assert attribute in response, attribute


def test_the_declared_facts_of_todays_operations() -> None:
    by_call = {f"{op.resource}.{op.method_name}": op for op in OPERATIONS}
    assert by_call["balances.check"].dedup == "none"
    assert by_call["usage.check"].dedup == by_call["usage.track"].dedup == "header"
    assert ("customer_id", "customer_id") in by_call["balances.check"].echoes
    assert ("entity_id", "entity_id") in by_call["balances.check"].echoes
    assert by_call["usage.check"].echoes == (("feature_code", "feature_code"),)
    assert dict(by_call["usage.track"].echoes) == {
        "customer_id": "customer_id",
        "feature_code": "feature_code",
        "event_id": "event_id",
    }


def test_the_declared_facts_of_autumns_recording_operations() -> None:
    by_call = {f"{op.resource}.{op.method_name}": op for op in OPERATIONS}
    track, tokens = by_call["balances.track"], by_call["balances.track_tokens"]
    batch, finalize = by_call["balances.batch_track"], by_call["balances.finalize"]
    assert track.dedup == tokens.dedup == finalize.dedup == "none"
    assert batch.dedup == "body_key"
    assert dict(track.echoes) == {
        "customer_id": "customer_id",
        "entity_id": "entity_id",
        "event_name": "event_name",
    }
    assert dict(tokens.echoes) == {"customer_id": "customer_id", "entity_id": "entity_id"}
    assert batch.echoes == finalize.echoes == ()
    assert track.exactly_one_of == ("feature_id", "event_name")
    assert (batch.array_body.name, batch.array_body.min_items, batch.array_body.max_items) == (
        "events",
        1,
        1000,
    )
    assert all(op.writes is True and op.fallback is None for op in (track, tokens, batch, finalize))
    assert [op.version_header for op in (track, tokens, finalize, batch)] == [
        ("x-api-version", "2.3.0"),
        ("x-api-version", "2.3.0"),
        ("x-api-version", "2.3.0"),
        ("x-api-version", "2.5.0"),
    ]
    assert by_call["balances.check"].writes_with({"lock": {"lock_id": "l"}})
    assert not by_call["balances.check"].writes_with({"lock": None, "send_event": None})


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_every_argument_doc_names_a_body_parameter(op: Operation[Any]) -> None:
    if op.array_body is not None:
        assert set(op.arg_docs) <= {op.array_body.name}
    else:
        assert set(op.arg_docs) <= set(op.request_model.model_fields)
    assert "Returns:" in op.doc
