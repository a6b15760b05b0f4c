"""`Requester` / `AsyncRequester`: what a resource needs of its client, met by both clients."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from meterly import AsyncMeterly, Meterly
from meterly._declaration import Operation
from meterly._requester import AsyncRequester, Requester
from meterly.balances import AsyncBalances, Balances


def test_the_sync_client_requests_synchronously_and_the_async_client_asynchronously() -> None:
    assert not inspect.iscoroutinefunction(Meterly._request)
    assert inspect.iscoroutinefunction(AsyncMeterly._request)


def test_the_protocols_and_the_clients_take_the_same_parameters() -> None:
    expected = list(inspect.signature(Requester._request).parameters)
    assert list(inspect.signature(Meterly._request).parameters) == expected
    assert list(inspect.signature(AsyncRequester._request).parameters) == expected
    assert list(inspect.signature(AsyncMeterly._request).parameters) == expected


def test_a_resource_runs_on_any_object_with_request() -> None:
    class Answering:
        def _request(self, op: Operation[Any], arguments: Mapping[str, Any]) -> Any:
            return (op.operation_id, arguments["customer_id"])

    requester: Requester = Answering()
    assert Balances(requester).check(customer_id="cus_1", feature_id="f") == ("balancesCheck", "cus_1")


def test_an_async_resource_awaits_what_its_requester_returns() -> None:
    import asyncio

    class Answering:
        async def _request(self, op: Operation[Any], arguments: Mapping[str, Any]) -> Any:
            return op.operation_id

    requester: AsyncRequester = Answering()
    assert asyncio.run(AsyncBalances(requester).check(customer_id="cus_1", feature_id="f")) == "balancesCheck"
