"""`Meterly` and `AsyncMeterly`: two thin shells over one pipeline, differing only in how they send,
sleep and await hooks. Each answered by an httpx MockTransport (no socket)."""

from __future__ import annotations

import asyncio
from typing import Any, List

import httpx
import pytest

from meterly import AsyncMeterly, Meterly, errors, models
from meterly.hooks import HookContext
from tests.conftest import API_KEY, CHECK_BODY, json_response, sequence


def sync_client(handler: Any, sent: List[httpx.Request], **kwargs: Any) -> Meterly:
    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    return Meterly(api_key=API_KEY, client=httpx.Client(transport=httpx.MockTransport(recording)), **kwargs)


def check(client: Meterly) -> models.CheckResponse:
    return client.balances.check(customer_id="cus_123", feature_id="messages")


def test_the_sync_client_sleeps_between_attempts_with_its_own_sleep() -> None:
    sent: List[httpx.Request] = []
    client = sync_client(sequence(json_response(503, {}), json_response(200, CHECK_BODY)), sent)
    slept: List[float] = []
    client._sleep = slept.append
    client._pipeline.random = lambda: 0.5
    assert check(client).allowed
    assert len(sent) == 2
    assert len(slept) == 1
    assert slept[0] > 0


def test_the_async_client_sleeps_between_attempts_with_its_own_sleep() -> None:
    slept: List[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def call() -> models.CheckResponse:
        handler = sequence(json_response(503, {}), json_response(200, CHECK_BODY))
        transport = httpx.MockTransport(handler)
        async with AsyncMeterly(api_key=API_KEY, client=httpx.AsyncClient(transport=transport)) as client:
            client._sleep = sleep
            return await client.balances.check(customer_id="cus_123", feature_id="messages")

    assert asyncio.run(call()).allowed
    assert len(slept) == 1


class AsyncHook:
    def __init__(self) -> None:
        self.seen: List[str] = []

    async def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        self.seen.append(ctx.operation_id)
        return request


def test_the_sync_client_refuses_an_async_hook_naming_it() -> None:
    sent: List[httpx.Request] = []
    client = sync_client(sequence(json_response(200, CHECK_BODY)), sent, hooks=[AsyncHook()])
    with pytest.raises(TypeError, match=r"AsyncHook\.before_request is async"):
        check(client)
    assert sent == []


def test_the_async_client_awaits_an_async_hook() -> None:
    hook = AsyncHook()

    async def call() -> models.CheckResponse:
        transport = httpx.MockTransport(sequence(json_response(200, CHECK_BODY)))
        client = AsyncMeterly(api_key=API_KEY, client=httpx.AsyncClient(transport=transport), hooks=[hook])
        return await client.balances.check(customer_id="cus_123", feature_id="messages")

    assert asyncio.run(call()).allowed
    assert hook.seen == ["balancesCheck"]


def test_a_closed_client_refuses_calls_before_any_request() -> None:
    sent: List[httpx.Request] = []
    client = sync_client(sequence(json_response(200, CHECK_BODY)), sent)
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        check(client)
    assert sent == []


def test_a_view_sends_through_the_clients_pool_and_closing_it_leaves_the_client_open() -> None:
    sent: List[httpx.Request] = []
    client = sync_client(sequence(json_response(200, CHECK_BODY)), sent)
    with client.with_options(timeout_ms=500) as view:
        check(view)
    check(client)
    assert len(sent) == 2


def test_the_repr_names_the_server_and_never_the_key() -> None:
    client = Meterly(api_key=API_KEY, server_url="http://127.0.0.1:9")
    client.close()
    assert repr(client) == "Meterly(server_url='http://127.0.0.1:9')"
    assert client.server_url == "http://127.0.0.1:9"


def test_the_repr_of_a_client_whose_construction_failed_still_works() -> None:
    assert repr(Meterly.__new__(Meterly)) == "Meterly(server_url=None)"


@pytest.mark.parametrize(("cls", "wrong"), [(Meterly, httpx.AsyncClient), (AsyncMeterly, httpx.Client)])
def test_an_injected_client_of_the_other_kind_is_refused_naming_client(cls: Any, wrong: Any) -> None:
    injected = wrong()
    with pytest.raises(errors.RequestValidationError) as caught:
        cls(api_key=API_KEY, client=injected)
    assert caught.value.param == "client"


def test_an_unknown_http_backend_is_refused_naming_it() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        AsyncMeterly(api_key=API_KEY, http_backend="curl")  # type: ignore[arg-type]
    assert caught.value.param == "http_backend"


def test_warm_compiles_the_models_and_opens_the_pool() -> None:
    from meterly import Meterly
    from meterly._registry import OPERATIONS

    sdk = Meterly(api_key="sk_test", server_url="http://127.0.0.1:9")
    sdk.warm()
    assert all(op.compiled is not None for op in OPERATIONS)
    assert sdk._pool._sender is not None  # pyright: ignore[reportPrivateUsage]
    sdk.close()
