"""Every operation of the registry gets the answer check and the write rule from its declaration alone
(`echoes`, `writes`, `dedup`): the pipeline has no per-operation case. For each operation, arguments and
answers are synthesized from its request and response models, and the attempt loop is driven by the fake
engine: an answer echoing another request is never returned (a read is asked again, anything else raises
`ResponseMismatchError`), and a write its service does not deduplicate is never resent once it may have
arrived (`WriteOutcomeUnknownError`), while one that certainly never arrived, or one the service
deduplicates by header, is retried."""

from __future__ import annotations

import json
import typing
from typing import Any, Dict, List, Union

import httpx
import pydantic
import pytest

from meterly import errors
from meterly._declaration import Operation
from meterly._registry import OPERATIONS
from meterly.types import BaseModel

from .fakes import FakeEngine, build_request, loop, prepare, received

BY_OPERATION = [pytest.param(op, id=op.operation_id) for op in OPERATIONS]
WRITES = [pytest.param(op, id=op.operation_id) for op in OPERATIONS if op.writes]
ECHOING = [
    pytest.param(op, echo, id=f"{op.operation_id}-{echo[0]}") for op in OPERATIONS for echo in op.echoes
]


def _value(annotation: Any, name: str) -> Any:
    """A JSON value that fits `annotation` (the first branch of a union that is not None)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _value(typing.get_args(annotation)[0], name)
    if origin is Union:
        branches = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _value(branches[0], name)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (list, List):
        return []
    if origin in (dict, Dict):
        return {}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return _document(annotation)
    if annotation is bool:
        return True
    if annotation in (int, float):
        return 1
    return f"{name}-1"


def _document(model: type[pydantic.BaseModel]) -> Dict[str, Any]:
    """The JSON (by alias) of `model` with each required field filled in."""
    return {
        field.alias or name: _value(field.annotation, name)
        for name, field in model.model_fields.items()
        if field.is_required()
    }


def arguments(op: Operation[Any], write: bool) -> Dict[str, Any]:
    """Valid arguments: every required body parameter, each echoed one set, and the write switch."""
    model = op.request_model
    if op.array_body is not None:
        return {op.array_body.name: [_item(model)]}
    args: Dict[str, Any] = {}
    for param in op.params:
        field = model.model_fields[param.name]
        if param.required or any(echo[0] == param.name for echo in op.echoes):
            args[param.name] = _value(field.annotation, param.name)
    if op.exactly_one_of and not any(name in args for name in op.exactly_one_of):
        first = op.exactly_one_of[0]
        args[first] = _value(model.model_fields[first].annotation, first)
    if isinstance(op.writes, str):
        args[op.writes] = write
    elif isinstance(op.writes, tuple):
        switch = next(name for name in op.writes if _value(model.model_fields[name].annotation, name) is True)
        args[switch] = write  # the first flag that makes the call a write (`send_event`)
    return args


def _item(model: type[pydantic.BaseModel]) -> Dict[str, Any]:
    """One item of an array body: the required fields, then optional ones in order until the model's own
    rule accepts it (a track event names one of `feature_id` and `event_name`)."""
    item = _document(model)
    optional = [(name, field) for name, field in model.model_fields.items() if not field.is_required()]
    while True:
        try:
            model.model_validate(item)
            return item
        except pydantic.ValidationError:
            name, field = optional.pop(0)
            item[field.alias or name] = _value(field.annotation, name)


def answer(op: Operation[Any], args: Dict[str, Any], **changed: Any) -> Any:
    """The operation's 2xx body echoing `args` (with `changed` response attributes instead)."""
    model = op.response_model
    assert issubclass(model, BaseModel)
    data = _document(model)
    for param, attribute in op.echoes:
        data[model.model_fields[attribute].alias or attribute] = changed.get(attribute, args[param])
    body: Dict[str, Any] = data
    if op.envelope is not None:
        body = {**_document(op.envelope()), "data": data}
    op.parse(json.dumps(body).encode())  # the synthesized answer really is one
    return received(200, body)


def run(op: Operation[Any], args: Dict[str, Any], *script: Any) -> tuple[Any, FakeEngine]:
    attempts, clock = loop()
    engine = FakeEngine(clock, *script)
    return engine.drive(attempts.run(prepare(op, **args), build_request)), engine


def is_write(op: Operation[Any]) -> bool:
    return op.writes_with(arguments(op, write=True))


@pytest.mark.parametrize("op", BY_OPERATION)
def test_an_answer_that_echoes_its_request_is_returned(op: Operation[Any]) -> None:
    args = arguments(op, write=False)
    result, engine = run(op, args, answer(op, args))
    for param, attribute in op.echoes:
        assert getattr(result, attribute) == args[param]
    assert (len(engine.sent), engine.discarded) == (1, [])


@pytest.mark.parametrize(("op", "echo"), ECHOING)
def test_another_requests_answer_is_never_returned(op: Operation[Any], echo: tuple[str, str]) -> None:
    param, attribute = echo
    for write in (False, True):
        args = arguments(op, write)
        stale = answer(op, args, **{attribute: f"another-{param}"})
        if op.writes_with(args):
            with pytest.raises(errors.ResponseMismatchError) as caught:
                run(op, args, stale, answer(op, args))
            assert caught.value.field == param
            assert caught.value.body == stale.content.decode()  # the raw body is kept
            assert caught.value.raw_response is not None
        else:
            result, engine = run(op, args, stale, answer(op, args))
            assert getattr(result, attribute) == args[param]  # asked again, on a fresh connection
            assert (len(engine.sent), engine.discarded) == (2, [stale])


@pytest.mark.parametrize("op", WRITES)
def test_a_write_that_may_have_arrived_is_resent_only_when_its_service_deduplicates_it(
    op: Operation[Any],
) -> None:
    args = arguments(op, write=True)
    assert op.writes_with(args)
    for lost in (httpx.ReadError("reset"), received(500, {"message": "down"})):
        if op.dedup == "none":
            with pytest.raises(errors.WriteOutcomeUnknownError) as caught:
                run(op, args, lost, answer(op, args))
            assert isinstance(caught.value, errors.APIConnectionError)
            assert caught.value.operation == op.operation_id
            assert caught.value.idempotency_key
        else:
            result, engine = run(op, args, lost, answer(op, args))
            assert result is not None
            keys = {request.headers["idempotency-key"] for request in engine.sent}
            assert (len(engine.sent), len(keys)) == (2, 1)


SWITCHES = [
    pytest.param(op, switch, id=f"{op.operation_id}-{switch}")
    for op in OPERATIONS
    if isinstance(op.writes, tuple)
    for switch in op.writes
]


@pytest.mark.parametrize(("op", "switch"), SWITCHES)
def test_each_argument_that_makes_a_call_a_write_gets_the_write_rule(op: Operation[Any], switch: str) -> None:
    args = arguments(op, write=False)
    field = op.request_model.model_fields[switch]
    args[switch] = _value(field.annotation, switch)  # a lock's document, or True for a flag
    assert op.writes_with(args)
    lost = received(500, {"message": "down"})
    if op.dedup == "none":
        with pytest.raises(errors.WriteOutcomeUnknownError):
            run(op, args, lost, answer(op, args))
    else:
        result, engine = run(op, args, lost, answer(op, args))
        assert (result is not None, len(engine.sent)) == (True, 2)


@pytest.mark.parametrize("op", WRITES)
def test_a_write_that_certainly_never_arrived_is_retried(op: Operation[Any]) -> None:
    args = arguments(op, write=True)
    for refused in (httpx.ConnectError("refused"), received(429, {"message": "slow down"})):
        result, engine = run(op, args, refused, answer(op, args))
        assert result is not None
        assert len(engine.sent) == 2


def test_every_operation_declares_how_its_service_deduplicates_and_what_it_echoes() -> None:
    for op in OPERATIONS:
        assert op.dedup in ("header", "body_key", "none")
        model = op.response_model
        if not op.echoes:  # only an answer that names nothing of its request (`{success}`) echoes nothing
            asked = {p.name for p in op.params} | {p.key for p in op.params}
            assert not asked & set(model.model_fields), op.operation_id
        for param, attribute in op.echoes:
            assert param in {p.name for p in op.params}, (op.operation_id, param)
            assert attribute in model.model_fields, (op.operation_id, attribute)
