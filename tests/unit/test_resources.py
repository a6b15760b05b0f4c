"""The generated resources (`meterly/balances.py`, `meterly/usage.py`), tested once over the registry:
each operation is a sync, an async and a raw method that hand their arguments to the client's `_request`
with the operation's declaration."""

from __future__ import annotations

import asyncio
import inspect
import typing
from typing import Any, Dict, List, Mapping, Tuple

import pytest

from meterly import AsyncMeterly, Meterly
from meterly._declaration import Operation
from meterly._raw import raw_mode
from meterly._registry import OPERATIONS, resources

IDS = [op.operation_id for op in OPERATIONS]


class Recording:
    """A client as the resources see it (`Requester`): records each `_request` and answers its op."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Operation[Any], Dict[str, Any], bool]] = []

    def _request(self, op: Operation[Any], arguments: Mapping[str, Any]) -> Any:
        self.calls.append((op, dict(arguments), raw_mode.get()))
        return op


class AsyncRecording(Recording):
    async def _request(self, op: Operation[Any], arguments: Mapping[str, Any]) -> Any:  # type: ignore[override]
        return super()._request(op, arguments)


def resource_class(client: type, op: Operation[Any]) -> Any:
    return typing.get_type_hints(client)[op.resource]


def required_arguments(method: Any) -> Dict[str, str]:
    """A value for each argument the method has no default for."""
    parameters = inspect.signature(method).parameters.values()
    return {p.name: f"<{p.name}>" for p in parameters if p.default is inspect.Parameter.empty}


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_sync_method_passes_its_arguments_to_request_with_its_operation(op: Operation[Any]) -> None:
    sdk = Recording()
    method = getattr(resource_class(Meterly, op)(sdk), op.method_name)
    arguments = required_arguments(method)
    assert method(**arguments) is op
    ((called, passed, raw),) = sdk.calls
    assert called is op
    assert {name: passed[name] for name in arguments} == arguments
    assert not raw


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_async_method_passes_its_arguments_to_request_with_its_operation(op: Operation[Any]) -> None:
    sdk = AsyncRecording()
    method = getattr(resource_class(AsyncMeterly, op)(sdk), op.method_name)
    assert inspect.iscoroutinefunction(method)
    arguments = required_arguments(method)
    assert asyncio.run(method(**arguments)) is op
    ((called, passed, raw),) = sdk.calls
    assert called is op
    assert {name: passed[name] for name in arguments} == arguments
    assert not raw


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_every_argument_of_the_method_reaches_request_by_name(op: Operation[Any]) -> None:
    sdk = Recording()
    method = getattr(resource_class(Meterly, op)(sdk), op.method_name)
    method(**required_arguments(method))
    ((_, passed, _),) = sdk.calls
    names = set(inspect.signature(method).parameters)
    assert names <= set(passed)


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_with_raw_response_runs_the_same_operation_in_raw_mode(op: Operation[Any]) -> None:
    sdk = Recording()
    resource = resource_class(Meterly, op)(sdk)
    arguments = required_arguments(getattr(resource, op.method_name))
    assert getattr(resource.with_raw_response, op.method_name)(**arguments) is op
    ((called, _, raw),) = sdk.calls
    assert called is op
    assert raw
    assert not raw_mode.get()


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_async_with_raw_response_runs_the_same_operation_in_raw_mode(op: Operation[Any]) -> None:
    sdk = AsyncRecording()
    resource = resource_class(AsyncMeterly, op)(sdk)
    arguments = required_arguments(getattr(resource, op.method_name))
    assert asyncio.run(getattr(resource.with_raw_response, op.method_name)(**arguments)) is op
    ((called, _, raw),) = sdk.calls
    assert called is op
    assert raw


@pytest.mark.parametrize("client", [Meterly, AsyncMeterly])
def test_each_resource_has_exactly_the_registrys_operations_and_with_raw_response(client: type) -> None:
    for resource, ops in resources().items():
        cls = typing.get_type_hints(client)[resource]
        public = {name for name in vars(cls) if not name.startswith("_")}
        assert public == {op.method_name for op in ops}
        raw = resource_class(client, ops[0])(Recording()).with_raw_response
        assert {name for name in vars(raw) if not name.startswith("_")} == public
