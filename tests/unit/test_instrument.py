"""The `Instrument` seam: an object set on a client (or its class) runs each whole call."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, List, Mapping, Tuple

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, models
from meterly._declaration import Operation
from meterly._instrument import Instrument
from meterly._registry import BY_ID
from tests.conftest import API_KEY, ok_check


class Recorder:
    """An instrument that records what it is given and runs the call."""

    def __init__(self) -> None:
        self.seen: List[Tuple[Any, Operation[Any], Mapping[str, Any]]] = []

    def call(self, client: Any, op: Operation[Any], args: Mapping[str, Any], run: Callable[[], Any]) -> Any:
        self.seen.append((client, op, args))
        return run()

    async def acall(
        self, client: Any, op: Operation[Any], args: Mapping[str, Any], run: Callable[[], Awaitable[Any]]
    ) -> Any:
        self.seen.append((client, op, args))
        return await run()


def test_a_sync_call_runs_through_the_instruments_call_with_its_operation_and_arguments() -> None:
    recorder = Recorder()
    instrument: Instrument = recorder
    with Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(ok_check))) as client:
        client._instrument = instrument
        result = client.balances.check(customer_id="cus_1", feature_id="messages")
    assert isinstance(result, models.CheckResponse)
    ((seen_client, op, args),) = recorder.seen
    assert seen_client is client
    assert op is BY_ID["balancesCheck"]
    assert args["customer_id"] == "cus_1"


def test_an_async_call_runs_through_the_instruments_acall() -> None:
    recorder = Recorder()

    async def call() -> Any:
        transport = httpx.MockTransport(ok_check)
        async with AsyncMeterly(api_key=API_KEY, client=httpx.AsyncClient(transport=transport)) as client:
            client._instrument = recorder
            return await client.balances.check(customer_id="cus_1", feature_id="messages")

    assert isinstance(asyncio.run(call()), models.CheckResponse)
    ((_, op, args),) = recorder.seen
    assert op is BY_ID["balancesCheck"]
    assert args["feature_id"] == "messages"


def test_an_instrument_set_on_the_class_sees_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(Meterly, "_instrument", recorder)
    for customer in ("cus_1", "cus_2"):
        with Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(ok_check))) as client:
            client.balances.check(customer_id=customer, feature_id="messages")
    assert [args["customer_id"] for _, _, args in recorder.seen] == ["cus_1", "cus_2"]


def test_the_instrument_decides_whether_the_call_runs() -> None:
    class Refusing(Recorder):
        def call(
            self, client: Any, op: Operation[Any], args: Mapping[str, Any], run: Callable[[], Any]
        ) -> Any:
            return "not run"

    sent: List[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or ok_check(request))  # type: ignore[func-returns-value]
    with Meterly(api_key=API_KEY, client=httpx.Client(transport=transport)) as client:
        client._instrument = Refusing()
        assert client.balances.check(customer_id="cus_1", feature_id="messages") == "not run"
    assert sent == []
