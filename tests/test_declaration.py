"""Each operation is one declaration (`meterly._endpoints`) plus its models: the declaration's facts are
consistent with the models, and the generated resource methods take exactly the request model's fields."""

from __future__ import annotations

import inspect
import threading
import time
import typing
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Union, get_args, get_origin

import pydantic
import pytest

from meterly import AsyncMeterly, Meterly, models
from meterly._arg import NO_DEFAULT, Arg
from meterly._declaration import BODY_KEY, MAX_NESTING, AdapterCheck, Operation, check_object, json_parser
from meterly._options import CallOptions
from meterly._registry import OPERATIONS
from meterly.errors import RequestValidationError
from meterly.models import requestdicts
from meterly.types import BaseModel

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


def _fresh(op: Operation[Any]) -> Operation[Any]:
    """A copy of `op`'s declaration, nothing of it compiled yet."""
    return Operation(
        operation_id=op.operation_id,
        sdk_call=f"{op.resource}.{op.method_name}",
        path=op.path,
        security=op.security,
        request=lambda: op.request_model,
        response=lambda: op.response_model,
    )


def _balances_check() -> Operation[Any]:
    return next(op for op in OPERATIONS if (op.resource, op.method_name) == ("balances", "check"))


def _adapters_built(monkeypatch: pytest.MonkeyPatch) -> List[Any]:
    """Records every pydantic TypeAdapter built from now on."""
    built: List[Any] = []
    original = pydantic.TypeAdapter.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(args[0] if args else kwargs.get("type"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(pydantic.TypeAdapter, "__init__", counting)
    return built


def test_a_parameter_checked_by_an_adapter_builds_it_at_its_first_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    op = _fresh(_balances_check())
    built = _adapters_built(monkeypatch)
    (lock,) = [param for param in op.compile() if param.name == "lock"]
    assert isinstance(lock.check, AdapterCheck)
    assert built == []  # a call without `lock` never needs it
    assert lock.check("lock", {"lock_id": "l1"})["lock_id"] == "l1"
    assert lock.check("lock", {"lock_id": "l2"})["lock_id"] == "l2"
    assert len(built) == 1
    with pytest.raises(RequestValidationError) as caught:
        lock.check("lock", {"lock_id": 1})
    assert caught.value.param == "lock"


def test_warm_builds_every_adapter_and_the_result_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    op = _fresh(_balances_check())
    op.warm()
    built = _adapters_built(monkeypatch)
    (lock,) = [param for param in op.params if param.name == "lock"]
    lock.check("lock", {"lock_id": "l1"})
    answer = op.parse(b'{"allowed": true, "customer_id": "c", "balance": null}')
    assert answer.allowed is True
    assert built == []


def test_threads_whose_first_calls_meet_compile_the_body_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from meterly import _declaration

    op = _fresh(_balances_check())
    compiled: List[Any] = []
    original = _declaration.body_params

    def counting(model: Any) -> Any:
        compiled.append(model)
        time.sleep(0.01)  # long enough for every other thread to arrive meanwhile
        return original(model)

    monkeypatch.setattr(_declaration, "body_params", counting)
    threads = 16
    start = threading.Barrier(threads)
    results: List[Any] = []

    def first_call() -> None:
        start.wait()
        results.append(op.params)

    workers = [threading.Thread(target=first_call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(compiled) == 1
    assert len(results) == threads
    assert all(params is results[0] for params in results)


def test_threads_whose_first_parses_meet_build_the_validator_once(monkeypatch: pytest.MonkeyPatch) -> None:
    class Deferred(BaseModel):  # meterly's base: its validator is built at first use
        allowed: bool

    rebuilds: List[int] = []
    original = Deferred.model_rebuild.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, *args: Any, **kwargs: Any) -> Any:
        rebuilds.append(1)
        time.sleep(0.01)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Deferred, "model_rebuild", classmethod(counting))
    parse = json_parser(lambda: Deferred)
    threads = 16
    start = threading.Barrier(threads)
    answers: List[bool] = []

    def first_parse() -> None:
        start.wait()
        answers.append(parse(b'{"allowed": true}').allowed)

    workers = [threading.Thread(target=first_parse) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert answers == [True] * threads
    assert len(rebuilds) == 1


def _nested(levels: int, container: Any) -> Any:
    """A dict holding `levels` - 1 levels of dicts (or lists) inside one another: `levels` in all."""
    value: Any = {"leaf": 1} if container is dict else [1]
    for _ in range(levels - 2):
        value = {"a": value} if container is dict else [value]
    return {"a": value}


@pytest.mark.parametrize("container", [dict, list])
def test_properties_nest_up_to_the_limit_on_every_python(container: Any) -> None:
    """The same limit on every version: Python's json module alone refuses near 1,000 levels on 3.11 and
    encodes any depth on 3.13."""
    assert check_object("properties", _nested(MAX_NESTING, container))
    with pytest.raises(RequestValidationError, match=f"nested more than {MAX_NESTING} levels"):
        check_object("properties", _nested(MAX_NESTING + 1, container))


def test_properties_that_contain_themselves_are_refused_before_any_io() -> None:
    looped: Dict[str, Any] = {"a": [1, 2]}
    looped["a"].append(looped)
    with pytest.raises(RequestValidationError, match="refers to itself"):
        check_object("properties", looped)
