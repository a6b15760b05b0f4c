"""`outbox=` on the clients: declared once among the client options, built lazily, closed by the root
client only."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys

import pytest

from meterly import AsyncMeterly, Meterly, errors
from meterly.outbox import AsyncClientOutbox, ClientOutbox, Outbox
from meterly.sandbox import DEFAULT_API_KEY, Sandbox

from .conftest import FAST, usage_of


def test_import_meterly_loads_neither_the_outbox_nor_sqlite3() -> None:
    code = (
        "import sys, meterly; meterly.Meterly(api_key='k'); "
        "print(sorted(m for m in ('meterly.outbox', 'sqlite3') if m in sys.modules))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


def test_the_constructors_take_outbox_with_none_as_the_default() -> None:
    for client_class in (Meterly, AsyncMeterly):
        parameter = inspect.signature(client_class.__init__).parameters["outbox"]
        assert parameter.default is None


def test_a_client_without_an_outbox_names_the_argument() -> None:
    client = Meterly(api_key=DEFAULT_API_KEY)
    with pytest.raises(errors.RequestValidationError) as raised:
        client.outbox  # noqa: B018
    assert raised.value.param == "outbox"
    assert "outbox=True" in str(raised.value)


def test_outbox_false_builds_none() -> None:
    client = Meterly(api_key=DEFAULT_API_KEY, outbox=False)
    with pytest.raises(errors.RequestValidationError):
        client.outbox  # noqa: B018


def test_a_bad_outbox_is_refused_before_any_io() -> None:
    with pytest.raises(errors.RequestValidationError) as raised:
        Meterly(api_key=DEFAULT_API_KEY, outbox="yes")  # type: ignore[arg-type]
    assert raised.value.param == "outbox"


def test_outbox_true_is_in_memory() -> None:
    client = Meterly(api_key=DEFAULT_API_KEY, outbox=True)
    assert isinstance(client.outbox, ClientOutbox)
    assert not client.outbox.store.durable
    client.close()
    assert client.outbox.closed


def test_a_view_shares_the_outbox_and_closing_it_leaves_the_outbox_open(sandbox: Sandbox) -> None:
    client = Meterly(api_key=DEFAULT_API_KEY, server_url=sandbox.url, outbox=Outbox(**FAST))
    view = client.with_options(timeout_ms=5_000)
    assert view.outbox is client.outbox
    view.close()
    assert not client.outbox.closed
    client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=2)
    client.close()  # delivers within close_timeout_ms
    assert client.outbox.closed
    assert usage_of(sandbox) == 2


def test_the_async_client_closes_its_outbox_in_aclose(sandbox: Sandbox) -> None:
    async def main() -> AsyncClientOutbox:
        client = AsyncMeterly(api_key=DEFAULT_API_KEY, server_url=sandbox.url, outbox=True)
        client.outbox.usage.track(customer_id="cus_1", feature_code="api_calls", value=5)
        await client.aclose()
        return client.outbox

    box = asyncio.run(main())
    assert box.closed
    assert usage_of(sandbox) == 5


def test_each_queued_method_takes_the_direct_calls_arguments_but_the_per_call_options() -> None:
    from meterly.outbox._resources import OutboxResources

    direct = Meterly(api_key=DEFAULT_API_KEY)
    queued = Meterly(api_key=DEFAULT_API_KEY, outbox=True).outbox
    not_queued = {"retries", "server_url", "timeout_ms", "http_headers"}
    checked = 0
    for resource in OutboxResources.__annotations__:
        for name, method in inspect.getmembers(getattr(queued, resource), inspect.ismethod):
            if name.startswith("_") or not hasattr(getattr(direct, resource), name):
                continue
            twin = inspect.signature(getattr(getattr(direct, resource), name)).parameters
            expected = [(p.name, p.annotation, p.default) for p in twin.values() if p.name not in not_queued]
            params = inspect.signature(method).parameters.values()
            assert [(p.name, p.annotation, p.default) for p in params] == expected, f"{resource}.{name}"
            assert inspect.signature(method).return_annotation == "models.Queued"
            checked += 1
    assert checked >= 1  # usage.track; Autumn's writes once the registry declares them
    queued.close()
