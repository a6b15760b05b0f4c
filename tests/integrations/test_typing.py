"""The typed integration code in tests/typing/ runs as written, against the sandbox."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from django.test import RequestFactory, override_settings

from meterly import AsyncMeterly, Meterly
from meterly.sandbox import Sandbox, SandboxEngine, SandboxTransport
from tests.integrations import test_django  # noqa: F401 - configures Django's settings
from tests.typing import integrations_code as code

pytestmark = pytest.mark.meterly_seed("demo")


def test_the_gate_answers_the_typed_result(meterly_engine: SandboxEngine) -> None:
    http = httpx.AsyncClient(transport=SandboxTransport(meterly_engine))
    client = AsyncMeterly(api_key="sk_test_sandbox", client=http)
    gate = code.make_gate()
    assert asyncio.run(code.gate_directly(gate, client)) is True
    meterly_engine.track("cus_pro", "messages", 1000)
    assert asyncio.run(code.gate_directly(gate, client)) is False
    assert code.make_app().router is not None


def test_the_django_view_and_clients(meterly_server: Sandbox) -> None:
    with override_settings(METERLY={"server_url": meterly_server.url, "api_key": meterly_server.api_key}):
        request = RequestFactory().get("/", headers={"x-customer-id": "cus_pro"})
        assert code.django_view(request).status_code == 200
        clients = code.django_clients()
        assert isinstance(clients["sync"], Meterly)
        assert isinstance(clients["async"], AsyncMeterly)


def test_the_instrumentor_and_no_waits(meterly_client: Meterly) -> None:
    code.traced(meterly_client)
    assert meterly_client._instrument is None
    assert code.no_waits(meterly_client).waits == []
    assert code.served().startswith("http://127.0.0.1:")


def test_feature_check_needs_a_gated_view() -> None:
    from meterly.integrations.django import feature_check

    with pytest.raises(RuntimeError, match="require_feature"):
        feature_check(RequestFactory().get("/"))
